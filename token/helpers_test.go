package token

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	testIssuer   = "https://auth.example.com"
	testAudience = "https://api.example.com"
)

// t0 is the test epoch; tests never read the wall clock for expiry.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is an injectable, manually advanced clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var allAlgs = []Alg{EdDSA, ES256, RS256, HS256}

// rsaKey is generated once per test binary: 3072-bit keygen is slow.
var (
	rsaKey  = sync.OnceValues(func() (*Key, error) { return GenerateKey(RS256, t0) })
	rsaKey2 = sync.OnceValues(func() (*Key, error) { return GenerateKey(RS256, t0) })
)

// testKey returns a fresh key for alg (RS256: the shared one).
func testKey(t testing.TB, alg Alg) *Key {
	t.Helper()
	var k *Key
	var err error
	if alg == RS256 {
		k, err = rsaKey()
		if err == nil {
			c := *k
			k = &c
		}
	} else {
		k, err = GenerateKey(alg, t0)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// countingStore wraps a KeyStore and counts ListKeys calls; fail makes every
// call fail, as an unreachable database would.
type countingStore struct {
	KeyStore
	lists atomic.Int64
	fail  atomic.Bool
}

func (s *countingStore) ListKeys(ctx context.Context) ([]StoredKey, error) {
	s.lists.Add(1)
	if s.fail.Load() {
		return nil, errStoreDown
	}
	return s.KeyStore.ListKeys(ctx)
}

func (s *countingStore) PutKey(ctx context.Context, k StoredKey) error {
	if s.fail.Load() {
		return errStoreDown
	}
	return s.KeyStore.PutKey(ctx, k)
}

type storeDownError struct{}

func (storeDownError) Error() string { return "store down" }

var errStoreDown error = storeDownError{}

// env is one deployment: a key set with one signing key, an issuer and a
// verifier, all on the same fake clock.
type env struct {
	clk   *clock
	store *countingStore
	keys  *Keys
	iss   *Issuer
	ver   *Verifier
	key   *Key // the signing key
}

func newEnv(t testing.TB, alg Alg) *env {
	t.Helper()
	return newEnvWithKey(t, testKey(t, alg))
}

func newEnvWithKey(t testing.TB, key *Key) *env {
	t.Helper()
	alg := key.Alg
	e := &env{clk: newClock(), store: &countingStore{KeyStore: NewMemKeyStore()}}
	var err error
	e.keys, err = NewKeys(e.store, KeysConfig{Alg: alg, Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.keys.Add(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	if e.key, err = e.keys.Signer(); err != nil {
		t.Fatal(err)
	}
	e.iss, err = NewIssuer(e.keys, IssuerConfig{Issuer: testIssuer, Audience: []string{testAudience}, Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.ver, err = NewVerifier(e.keys, VerifierConfig{Issuer: testIssuer, Audience: testAudience, Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) issue(t testing.TB, c Claims, opts ...IssueOption) string {
	t.Helper()
	tok, err := e.iss.Issue(context.Background(), c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func userClaims() Claims {
	return Claims{
		Subject:   "user-123",
		SessionID: "sess-1",
		ClientID:  "web",
		Email:     "ada@example.com",
		Roles:     []string{"admin", "user"},
		OrgID:     "org-9",
		Version:   7,
		Scope:     "openid profile",
	}
}

// validClaims is a correct payload (as a map, to be edited) at t0.
func validClaims() map[string]any {
	return map[string]any{
		"iss": testIssuer,
		"sub": "user-123",
		"aud": testAudience,
		"exp": t0.Add(10 * time.Minute).Unix(),
		"iat": t0.Unix(),
		"jti": "jti-1",
	}
}

func validHeader(k *Key) map[string]any {
	return map[string]any{"alg": string(k.Alg), "kid": k.ID, "typ": "at+jwt"}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// forge signs arbitrary header and payload JSON text with k's private key,
// by hand, so tests can build tokens that our Issuer would never make.
func forge(t testing.TB, k *Key, header, payload string) string {
	t.Helper()
	input := b64(header) + "." + b64(payload)
	return input + "." + base64.RawURLEncoding.EncodeToString(rawSign(t, k, []byte(input)))
}

// forgeWith builds a token from maps.
func forgeWith(t testing.TB, k *Key, header, payload map[string]any) string {
	t.Helper()
	return forge(t, k, mustJSON(t, header), mustJSON(t, payload))
}

func rawSign(t testing.TB, k *Key, msg []byte) []byte {
	t.Helper()
	h := sha256.Sum256(msg)
	switch p := k.priv.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(p, msg)
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, p, h[:])
		if err != nil {
			t.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig
	case *rsa.PrivateKey:
		sig, err := rsa.SignPKCS1v15(nil, p, crypto.SHA256, h[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case []byte:
		m := hmac.New(sha256.New, p)
		m.Write(msg)
		return m.Sum(nil)
	}
	t.Fatalf("rawSign: key type %T", k.priv)
	return nil
}

func hmacSign(secret []byte, msg string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
