package verifier

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/token"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64Decode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// handMade builds a compact JWS from header and claims JSON and a signature.
func handMade(header, claims string, sig []byte) string {
	return b64([]byte(header)) + "." + b64([]byte(claims)) + "." + b64(sig)
}

func hs256(secret []byte, header, claims string) string {
	input := b64([]byte(header)) + "." + b64([]byte(claims))
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + b64(m.Sum(nil))
}

// Forgeries: token has the full battery; these rows check that the remote
// key set adds no way around it.
func TestVerify_RefusesForgeries(t *testing.T) {
	t.Parallel()
	e := newIssuerEnv(t, token.EdDSA)
	v := e.verifier(t, nil)
	good := e.issue(t, token.Claims{})
	mustVerify(t, v, good)

	signer, err := e.keys.Signer()
	if err != nil {
		t.Fatal(err)
	}
	kid := signer.ID
	pub := signer.Public().(ed25519.PublicKey)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	jwks, _ := e.keys.JWKS()
	var set struct{ Keys []json.RawMessage }
	_ = json.Unmarshal(jwks, &set)

	now := e.clk.Now()
	claims := func(mod func(map[string]any)) string {
		m := map[string]any{"iss": e.url, "sub": "admin", "aud": testAudience, "exp": now.Add(10 * time.Minute).Unix(),
			"iat": now.Unix(), "jti": "j1", "roles": []string{"admin"}}
		if mod != nil {
			mod(m)
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	hsHeader := `{"alg":"HS256","kid":"` + kid + `","typ":"at+jwt"}`
	_, payload, _ := strings.Cut(good, ".")
	payload, sig, _ := strings.Cut(payload, ".")
	hdr, _, _ := strings.Cut(good, ".")

	// A listener that must never be contacted (jku, x5u).
	var contacted atomic.Int64
	ln := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { contacted.Add(1) }))
	t.Cleanup(ln.Close)

	for _, tc := range []struct {
		name string
		raw  string
	}{
		{"alg none", handMade(`{"alg":"none","kid":"`+kid+`","typ":"at+jwt"}`, claims(nil), nil)},
		{"alg NoNe", handMade(`{"alg":"NoNe","kid":"`+kid+`","typ":"at+jwt"}`, claims(nil), []byte("x"))},
		{"HS256 with the raw public key", hs256(pub, hsHeader, claims(nil))},
		{"HS256 with the PEM public key", hs256(pemKey, hsHeader, claims(nil))},
		{"HS256 with the DER public key", hs256(der, hsHeader, claims(nil))},
		{"HS256 with the JWK JSON", hs256(set.Keys[0], hsHeader, claims(nil))},
		{"HS256 with the whole JWKS", hs256(jwks, hsHeader, claims(nil))},
		{"tampered claims", hdr + "." + b64([]byte(claims(nil))) + "." + sig},
		{"stripped signature", hdr + "." + payload + "."},
		{"truncated signature", hdr + "." + payload + "." + sig[:len(sig)/2]},
		{"jku header", handMade(`{"alg":"EdDSA","kid":"`+kid+`","typ":"at+jwt","jku":"`+ln.URL+`"}`, claims(nil), make([]byte, 64))},
		{"x5u header", handMade(`{"alg":"EdDSA","kid":"`+kid+`","typ":"at+jwt","x5u":"`+ln.URL+`"}`, claims(nil), make([]byte, 64))},
		{"wrong issuer", issueWith(t, e.newIssuer(t, "https://evil.example.com"), token.Claims{})},
		{"issuer with a trailing slash", issueWith(t, e.newIssuer(t, e.url+"/"), token.Claims{})},
		{"wrong audience", e.issue(t, token.Claims{Audience: []string{"https://other.example.com"}})},
		{"expired", e.issue(t, token.Claims{IssuedAt: now.Add(-20 * time.Minute), ExpiresAt: now.Add(-2 * time.Minute)})},
		{"another deployment", issueWith(t, newIssuerEnv(t, token.EdDSA).newIssuer(t, e.url), token.Claims{})},
		{"oversized", strings.Repeat("a", token.MaxTokenSize+1)},
		{"garbage", "not a token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.raw)
			wantInvalid(t, err)
		})
	}
	if n := contacted.Load(); n != 0 {
		t.Errorf("a URL named by a token was fetched %d times", n)
	}
}

func TestVerify_ExpiredMatchesErrExpired(t *testing.T) {
	t.Parallel()
	e := newIssuerEnv(t, token.EdDSA)
	v := e.verifier(t, nil)
	tok := e.issue(t, token.Claims{})
	e.clk.Add(16 * time.Minute)
	_, err := v.Verify(context.Background(), tok)
	if !errors.Is(err, token.ErrExpired) || !errors.Is(err, token.ErrInvalidToken) {
		t.Errorf("err = %v, want ErrExpired and ErrInvalidToken", err)
	}
}

func TestNew_Config(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newIssuerEnv(t, token.EdDSA)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no issuer", Config{Audience: "a", JWKSURL: e.jwks}},
		{"no audience", Config{Issuer: e.url, JWKSURL: e.jwks}},
		{"leeway above 60s", Config{Issuer: e.url, Audience: "a", JWKSURL: e.jwks, Leeway: 61 * time.Second}},
		{"plain http JWKS on a remote host", Config{Issuer: e.url, Audience: "a", JWKSURL: "http://auth.example.com/jwks"}},
		{"plain http issuer on a remote host", Config{Issuer: "http://auth.example.com", Audience: "a"}},
	} {
		if _, err := New(ctx, tc.cfg); err == nil {
			t.Errorf("%s: New succeeded", tc.name)
		}
	}
}

func TestNew_Discovery(t *testing.T) {
	t.Parallel()
	e := newIssuerEnv(t, token.EdDSA)
	v, err := New(context.Background(), Config{Issuer: e.url, Audience: testAudience, Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	mustVerify(t, v, e.issue(t, token.Claims{}))

	// A discovery document for another issuer is refused (mix-up).
	_, err = New(context.Background(), Config{Issuer: e.url + "/", Audience: testAudience})
	if err == nil || !strings.Contains(err.Error(), "issuer") {
		t.Errorf("issuer mismatch: err = %v", err)
	}
	// Discovery unreachable: New fails (set JWKSURL to start anyway).
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	if _, err := New(context.Background(), Config{Issuer: dead, Audience: testAudience}); err == nil {
		t.Error("New with an unreachable issuer succeeded")
	}
	if _, err := New(context.Background(), Config{Issuer: dead, Audience: testAudience, JWKSURL: dead + "/jwks"}); err != nil {
		t.Errorf("New with JWKSURL did I/O: %v", err)
	}
}

func TestVerify_CustomKeySet(t *testing.T) {
	t.Parallel()
	e := newIssuerEnv(t, token.EdDSA)
	v := e.verifier(t, func(c *Config) { c.JWKSURL, c.KeySet = "", e.keys }) // in-process keys, no HTTP
	mustVerify(t, v, e.issue(t, token.Claims{}))
	if n := e.requests.Load(); n != 0 {
		t.Errorf("JWKS requests = %d, want 0", n)
	}
}

// revocationFunc adapts a function to RevocationChecker.
type revocationFunc func(ctx context.Context, raw string, c *token.Claims) (bool, error)

func (f revocationFunc) Revoked(ctx context.Context, raw string, c *token.Claims) (bool, error) {
	return f(ctx, raw, c)
}

func TestVerify_Revocation(t *testing.T) {
	t.Parallel()
	e := newIssuerEnv(t, token.EdDSA)
	var revoked atomic.Bool
	var down atomic.Bool
	var calls atomic.Int64
	v := e.verifier(t, func(c *Config) {
		c.Revocation = revocationFunc(func(_ context.Context, _ string, c *token.Claims) (bool, error) {
			calls.Add(1)
			if c.ID == "" {
				return false, errors.New("no jti")
			}
			if down.Load() {
				return false, errors.New("store down")
			}
			return revoked.Load(), nil
		})
	})
	tok := e.issue(t, token.Claims{})
	mustVerify(t, v, tok)

	revoked.Store(true)
	_, err := v.Verify(context.Background(), tok)
	wantInvalid(t, err)
	if !errors.Is(err, ErrRevoked) {
		t.Errorf("err = %v, want ErrRevoked", err)
	}
	down.Store(true)
	_, err = v.Verify(context.Background(), tok)
	wantUnavailable(t, err)

	// An invalid token never reaches the checker.
	before := calls.Load()
	_, err = v.Verify(context.Background(), tok[:len(tok)-4])
	wantInvalid(t, err)
	if calls.Load() != before {
		t.Error("the revocation checker saw an unverified token")
	}
}
