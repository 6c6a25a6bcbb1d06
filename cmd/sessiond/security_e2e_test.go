package main_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func writeConfig(t *testing.T, dir, yaml string) string {
	t.Helper()
	p := filepath.Join(dir, "sessiond.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Rule 3: served over TLS, the session cookie is __Host-sessiond, Secure,
// HttpOnly, SameSite=Lax, Path=/ and has no Domain.
func TestServeTLS_HostPrefixedSecureCookie(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key, pool := selfSigned(t, dir)
	cfg := writeConfig(t, dir, "tls:\n  cert: "+cert+"\n  key: "+key+"\n")
	if out, err := run(t, "a long enough pass\n", "user", "add", "--config", cfg, "--data", dir, "--email", "t@example.com", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	cmd := exec.Command(binary, "serve", "--config", cfg, "--data", dir, "--addr", addr)
	cmd.Env = cliEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := "https://" + addr
	var res *http.Response
	var err error
	for i := 0; i < 200; i++ {
		res, err = hc.Post(base+"/v1/login", "application/json", strings.NewReader(`{"email":"t@example.com","password":"a long enough pass"}`))
		if err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("login over TLS: %v\n%s", err, stderr.String())
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("login: %d", res.StatusCode)
	}
	sc := res.Header.Get("Set-Cookie")
	for _, want := range []string{"__Host-sessiond=", "Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %s", sc, want)
		}
	}
	if strings.Contains(strings.ToLower(sc), "domain=") {
		t.Errorf("__Host- cookie with a Domain: %q", sc)
	}
	res, err = hc.Get(base + "/v1/whoami")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("whoami over TLS: %v %v", err, res)
	}
	res.Body.Close()
	// Plain HTTP to the TLS port gets no session.
	if res, err := http.Get("http://" + addr + "/v1/whoami"); err == nil {
		if res.StatusCode == 200 {
			t.Fatal("plain HTTP served an identity")
		}
		res.Body.Close()
	}
}

// Item 4 of issue 13: served over TLS by sessiond itself, every response
// (a page, an API error, a 404, a login) carries Strict-Transport-Security
// as configured; plain HTTP never does, even when a trusted proxy says the
// request was HTTPS (that proxy owns the header).
func TestServeTLS_HSTS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key, pool := selfSigned(t, dir)
	tlsYAML := "tls:\n  cert: " + cert + "\n  key: " + key + "\n"
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	check := func(t *testing.T, hc *http.Client, base, want string, hdr ...string) {
		t.Helper()
		for _, c := range []struct{ method, path, body string }{
			{"GET", "/healthz", ""}, {"GET", "/login", ""}, {"GET", "/v1/whoami", ""}, {"GET", "/no/such/path", ""},
			{"POST", "/v1/login", `{"email":"t@example.com","password":"wrong password here"}`},
		} {
			req, _ := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
			req.Header.Set("Content-Type", "application/json")
			for i := 0; i+1 < len(hdr); i += 2 {
				req.Header.Set(hdr[i], hdr[i+1])
			}
			res, err := hc.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", c.method, c.path, err)
			}
			res.Body.Close()
			if got := res.Header.Values("Strict-Transport-Security"); want == "" && len(got) != 0 || want != "" && (len(got) != 1 || got[0] != want) {
				t.Errorf("%s %s (%d): Strict-Transport-Security %q, want %q", c.method, c.path, res.StatusCode, got, want)
			}
		}
	}
	for _, c := range []struct{ name, yaml, want string }{
		{"default", "", "max-age=31536000"},
		{"configured", "  hsts_max_age: 720h\n  hsts_include_subdomains: true\n", "max-age=2592000; includeSubDomains"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sub := filepath.Join(dir, c.name)
			if err := os.MkdirAll(sub, 0o700); err != nil {
				t.Fatal(err)
			}
			p := serve(t, sub, "--config", writeConfig(t, sub, tlsYAML+c.yaml))
			check(t, hc, "https://"+strings.TrimPrefix(p.url, "http://"), c.want)
		})
	}
	t.Run("plain HTTP behind a proxy that says https", func(t *testing.T) {
		sub := filepath.Join(dir, "plain")
		if err := os.MkdirAll(sub, 0o700); err != nil {
			t.Fatal(err)
		}
		p := serve(t, sub, "--config", writeConfig(t, sub, "trusted_proxies: [127.0.0.0/8]\n"))
		check(t, &http.Client{Timeout: 10 * time.Second}, p.url, "", "X-Forwarded-Proto", "https")
	})
}

// Rule 21: a client that sends its headers too slowly is cut off by
// ReadHeaderTimeout; oversized headers are refused with 431; a 100 KiB body
// gets 413.
func TestSlowAndOversizedClients(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "http:\n  read_header_timeout: 1s\n  max_header_bytes: 8192\n")
	addr := freeAddr(t)
	cmd := exec.Command(binary, "serve", "--config", cfg, "--data", dir, "--addr", addr)
	cmd.Env = cliEnv()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var conn net.Conn
	var err error
	for i := 0; i < 200; i++ {
		if conn, err = net.Dial("tcp", addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	// Never finish the headers: the server must close the connection.
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	b, _ := io.ReadAll(conn)
	if time.Since(start) > 9*time.Second {
		t.Fatal("a slow client held the connection past ReadHeaderTimeout")
	}
	if bytes.Contains(b, []byte("200 OK")) {
		t.Fatalf("incomplete request served: %q", b)
	}

	req, _ := http.NewRequest("GET", "http://"+addr+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("oversized headers: %d", res.StatusCode)
	}
	res, err = http.Post("http://"+addr+"/v1/login", "application/json", strings.NewReader(`{"email":"`+strings.Repeat("a", 100<<10)+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("100 KiB body: %d", res.StatusCode)
	}
}

// Rule 1: the store holds only hashes: neither the session cookie's value
// nor the password appears anywhere in the data directory's files.
func TestSessionTokens_OnlyHashesAtRest(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	const pass = "a long enough pass"
	if out, err := run(t, pass+"\n", "user", "add", "--data", data, "--email", "h@example.com", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	p := serve(t, data)
	b := newBrowser(t, p.url)
	b.login("h@example.com", pass)
	u, _ := http.NewRequest("GET", p.url, nil)
	var tok string
	for _, c := range b.hc.Jar.Cookies(u.URL) {
		if c.Name == "sessiond" {
			tok = c.Value
		}
	}
	if len(tok) != 43 {
		t.Fatalf("session token of %d characters, want 43 (256 bits base64url)", len(tok))
	}
	p.kill9()
	err := filepath.Walk(data, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is readable by others: %v", path, info.Mode())
		}
		content, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, secret := range []string{tok, pass} {
			if bytes.Contains(content, []byte(secret)) {
				t.Errorf("%s contains a secret in clear", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
