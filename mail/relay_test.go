package mail_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// relay is a real SMTP server (emersion/go-smtp) on a free loopback port
// that keeps what it receives.
type relay struct {
	t    *testing.T
	srv  *smtp.Server
	addr string
	host string
	port int

	user, pass string // when set, AUTH PLAIN is required

	mu     sync.Mutex
	got    []received
	answer *smtp.SMTPError // when set, DATA is answered with it
	auths  int
}

type received struct {
	From string
	To   []string
	Raw  string
	Msg  *mail.Message
	Body string
}

type relayOpts struct {
	tls        *tls.Config // STARTTLS offered with this config
	user, pass string
	addr       string // listen here instead of a free port
}

func startRelay(t *testing.T, o relayOpts) *relay {
	t.Helper()
	r := &relay{t: t, user: o.user, pass: o.pass}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &relaySession{r: r}, nil }))
	s.Domain = "relay.test"
	s.TLSConfig = o.tls
	s.AllowInsecureAuth = o.tls == nil
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.ErrorLog = nopLog{}
	addr := o.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("relay listen: %v", err)
	}
	r.srv, r.addr = s, l.Addr().String()
	r.host, r.port = splitAddr(t, r.addr)
	go func() { _ = s.Serve(l) }()
	t.Cleanup(r.stop)
	return r
}

func (r *relay) stop() { _ = r.srv.Close() }

func (r *relay) setAnswer(e *smtp.SMTPError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answer = e
}

func (r *relay) authAttempts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.auths
}

func (r *relay) messages() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// byMessageID counts the deliveries of each Message-ID.
func (r *relay) byMessageID() map[string]int {
	out := map[string]int{}
	for _, m := range r.messages() {
		out[m.Msg.Header.Get("Message-Id")]++
	}
	return out
}

type relaySession struct {
	r      *relay
	authed bool
	from   string
	to     []string
}

func (s *relaySession) AuthMechanisms() []string {
	if s.r.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *relaySession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		s.r.mu.Lock()
		s.r.auths++
		s.r.mu.Unlock()
		if user != s.r.user || pass != s.r.pass {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *relaySession) Mail(from string, _ *smtp.MailOptions) error {
	if s.r.user != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *relaySession) Data(rd io.Reader) error {
	b, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	if s.r.answer != nil {
		return s.r.answer
	}
	m, err := mail.ReadMessage(strings.NewReader(string(b)))
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(m.Body)
	s.r.got = append(s.r.got, received{From: s.from, To: s.to, Raw: string(b), Msg: m, Body: string(body)})
	return nil
}

func (s *relaySession) Reset()        { s.from, s.to = "", nil }
func (s *relaySession) Logout() error { return nil }

type nopLog struct{}

func (nopLog) Printf(string, ...any) {}
func (nopLog) Println(...any)        {}

// selfSigned returns a server TLS config with a fresh self-signed
// certificate for 127.0.0.1 and localhost, and a client config trusting it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relay.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}
	return server, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// freeAddr returns a loopback address where nothing listens (for a relay
// that is down), to be listened on later.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func splitAddr(t *testing.T, addr string) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return h, n
}
