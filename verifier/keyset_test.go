package verifier

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sessiond/sessiond/token"
)

func TestRemoteKeySet_ValidTokenAccepted(t *testing.T) {
	t.Parallel()
	for _, alg := range []token.Alg{token.EdDSA, token.ES256, token.RS256} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			e := newIssuerEnv(t, alg)
			v := e.verifier(t, nil)
			c := mustVerify(t, v, e.issue(t, token.Claims{Roles: []string{"admin"}, Version: 3}))
			if c.Subject != "user-42" || c.Issuer != e.url || c.Version != 3 || len(c.Roles) != 1 {
				t.Errorf("claims = %+v", c)
			}
			if n := e.requests.Load(); n != 1 {
				t.Errorf("JWKS requests = %d, want 1", n)
			}
			for range 10 { // warm: no more requests
				mustVerify(t, v, e.issue(t, token.Claims{}))
			}
			if n := e.requests.Load(); n != 1 {
				t.Errorf("JWKS requests after warm verifies = %d, want 1", n)
			}
		})
	}
}

func TestRemoteKeySet_RotationRefetchesOnUnknownKid(t *testing.T) {
	t.Parallel()
	e := newIssuerEnv(t, token.EdDSA)
	v := e.verifier(t, nil)
	old := e.issue(t, token.Claims{})
	mustVerify(t, v, old)

	e.clk.Add(DefaultMinRefetchInterval) // the cache is still fresh (max-age 300)
	e.rotate(t)
	fresh := e.issue(t, token.Claims{})
	mustVerify(t, v, fresh) // unknown kid: one refetch
	if n := e.requests.Load(); n != 2 {
		t.Fatalf("JWKS requests = %d, want 2 (initial + refetch on the new kid)", n)
	}
	mustVerify(t, v, old) // the retired key is still published
	mustVerify(t, v, fresh)
	if n := e.requests.Load(); n != 2 {
		t.Errorf("JWKS requests = %d, want still 2", n)
	}
}

func TestRemoteKeySet_RefetchRateLimited(t *testing.T) {
	t.Parallel()
	e := newIssuerEnv(t, token.EdDSA)
	v := e.verifier(t, nil)
	mustVerify(t, v, e.issue(t, token.Claims{}))

	// A token from another deployment: its kid is unknown here, for ever.
	other := newIssuerEnv(t, token.EdDSA)
	foreign := issueWith(t, other.newIssuer(t, e.url), token.Claims{})

	// Within the interval, an unknown kid costs no request at all.
	for range 50 {
		_, err := v.Verify(context.Background(), foreign)
		wantInvalid(t, err)
	}
	if n := e.requests.Load(); n != 1 {
		t.Fatalf("JWKS requests = %d, want 1: unknown kids inside MinRefetchInterval must not fetch", n)
	}
	// Over 30 simulated seconds of a flood, at most one fetch per 10 s.
	for range 30 {
		e.clk.Add(time.Second)
		for range 10 {
			_, err := v.Verify(context.Background(), foreign)
			wantInvalid(t, err)
		}
	}
	if n := e.requests.Load(); n != 1+3 {
		t.Errorf("JWKS requests = %d, want 4 (one per 10 s)", n)
	}

	// A genuine rotation inside the interval waits for the interval.
	e.rotate(t)
	tok := e.issue(t, token.Claims{})
	_, err := v.Verify(context.Background(), tok)
	wantInvalid(t, err)
	e.clk.Add(DefaultMinRefetchInterval)
	mustVerify(t, v, tok)
}

func TestRemoteKeySet_ConcurrentMissesShareOneFetch(t *testing.T) {
	t.Parallel()
	e := newIssuerEnv(t, token.EdDSA)
	gate := make(chan struct{})
	e.gate.Store(&gate)
	v := e.verifier(t, nil)
	tok := e.issue(t, token.Claims{})

	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), tok)
			errs <- err
		})
	}
	<-e.arrived                       // the one fetch is at the server
	time.Sleep(20 * time.Millisecond) // let the others queue behind it
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Verify: %v", err)
		}
	}
	if got := e.requests.Load(); got != 1 {
		t.Errorf("JWKS requests = %d, want 1 shared fetch", got)
	}
}

func TestRemoteKeySet_CallerCancelDoesNotAbortSharedFetch(t *testing.T) {
	t.Parallel()
	e := newIssuerEnv(t, token.EdDSA)
	gate := make(chan struct{})
	e.gate.Store(&gate)
	v := e.verifier(t, nil)
	tok := e.issue(t, token.Claims{})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := v.Verify(ctx, tok); done <- err }()
	<-e.arrived
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled caller: err = %v, want context.Canceled", err)
	}
	waiter := make(chan error, 1)
	go func() { _, err := v.Verify(context.Background(), tok); waiter <- err }()
	close(gate)
	if err := <-waiter; err != nil {
		t.Errorf("second caller: %v", err)
	}
	if n := e.requests.Load(); n != 1 {
		t.Errorf("JWKS requests = %d, want 1", n)
	}
}

func TestRemoteKeySet_HonoursCacheControl(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, cacheControl, age string
		ttl                     time.Duration
	}{
		{"max-age", "public, max-age=120", "", 120 * time.Second},
		{"default without header", "", "", DefaultTTL},
		{"no-store means the minimum", "no-store", "", DefaultMinTTL},
		{"max-age=0 means the minimum", "max-age=0", "", DefaultMinTTL},
		{"huge max-age is capped", "max-age=99999999", "", DefaultMaxTTL},
		{"Age is subtracted", "max-age=600", "500", 100 * time.Second},
		{"the smallest of several", "max-age=900, max-age=200", "", 200 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newIssuerEnv(t, token.EdDSA)
			e.setCacheControl(tc.cacheControl)
			if tc.age != "" {
				e.age.Store(&tc.age)
			}
			v := e.verifier(t, nil)
			mustVerify(t, v, e.issue(t, token.Claims{}))
			e.clk.Add(tc.ttl - time.Second)
			mustVerify(t, v, e.issue(t, token.Claims{}))
			if n := e.requests.Load(); n != 1 {
				t.Fatalf("requests 1 s before max-age = %d, want 1", n)
			}
			e.clk.Add(time.Second)
			mustVerify(t, v, e.issue(t, token.Claims{}))
			if n := e.requests.Load(); n != 2 {
				t.Fatalf("requests at max-age = %d, want 2", n)
			}
		})
	}
}

func TestCacheTTL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cc  []string
		age string
		ttl time.Duration
	}{
		{nil, "", DefaultTTL},
		{[]string{"public, max-age=300"}, "", 5 * time.Minute},
		{[]string{"public", "max-age=7200"}, "", 2 * time.Hour},
		{[]string{`max-age="90"`}, "", 90 * time.Second},
		{[]string{"MAX-AGE=90"}, "", 90 * time.Second},
		{[]string{"max-age=-5"}, "", DefaultTTL},
		{[]string{"max-age=abc"}, "", DefaultTTL},
		{[]string{"max-age=30"}, "", DefaultMinTTL},
		{[]string{"no-cache"}, "", DefaultMinTTL},
		{[]string{"max-age=9223372036854775807"}, "", DefaultMaxTTL},
		{[]string{"max-age=600"}, "9223372036854775807", DefaultMinTTL},
		{[]string{"max-age=600"}, "junk", 10 * time.Minute},
	} {
		h := http.Header{}
		for _, v := range tc.cc {
			h.Add("Cache-Control", v)
		}
		if tc.age != "" {
			h.Set("Age", tc.age)
		}
		if got := cacheTTL(h, DefaultTTL, DefaultMinTTL, DefaultMaxTTL); got != tc.ttl {
			t.Errorf("Cache-Control %q Age %q: ttl %s, want %s", tc.cc, tc.age, got, tc.ttl)
		}
	}
}

func TestRemoteKeySet_ServerDownKeepsCachedKeys(t *testing.T) {
	t.Parallel()
	e := newIssuerEnv(t, token.EdDSA)
	v := e.verifier(t, nil)
	mustVerify(t, v, e.issue(t, token.Claims{}))

	e.fail.Store(true)
	e.clk.Add(5*time.Minute + time.Second) // past max-age: a refetch is tried and fails
	tok := e.issue(t, token.Claims{})
	mustVerify(t, v, tok)
	if n := e.requests.Load(); n != 2 {
		t.Errorf("JWKS requests = %d, want 2 (the failed refetch)", n)
	}
	e.clk.Add(DefaultMaxStale - time.Minute) // still within MaxStale
	mustVerify(t, v, e.issue(t, token.Claims{}))

	e.clk.Add(2 * time.Minute) // now too stale: fail closed
	_, err := v.Verify(context.Background(), e.issue(t, token.Claims{}))
	wantUnavailable(t, err)

	e.fail.Store(false) // recovery without a restart
	e.clk.Add(DefaultMinRefetchInterval)
	mustVerify(t, v, e.issue(t, token.Claims{}))
}

func TestRemoteKeySet_FirstFetchFailsClosed(t *testing.T) {
	t.Parallel()
	e := newIssuerEnv(t, token.EdDSA)
	e.fail.Store(true)
	v := e.verifier(t, nil)
	tok := e.issue(t, token.Claims{})
	_, err := v.Verify(context.Background(), tok)
	wantUnavailable(t, err)
	// Within the interval nothing is fetched, and it is still 503, not 401.
	_, err = v.Verify(context.Background(), tok)
	wantUnavailable(t, err)
	if n := e.requests.Load(); n != 1 {
		t.Errorf("JWKS requests = %d, want 1", n)
	}
	e.fail.Store(false)
	e.clk.Add(DefaultMinRefetchInterval)
	mustVerify(t, v, tok)
}

func TestRemoteKeySet_Refresh(t *testing.T) {
	t.Parallel()
	e := newIssuerEnv(t, token.EdDSA)
	v := e.verifier(t, nil)
	rks := v.KeySet().(*RemoteKeySet)
	if err := rks.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := rks.Refresh(context.Background()); err != nil { // not rate-limited
		t.Fatal(err)
	}
	if n := e.requests.Load(); n != 2 {
		t.Errorf("JWKS requests = %d, want 2", n)
	}
	mustVerify(t, v, e.issue(t, token.Claims{}))
	if n := e.requests.Load(); n != 2 {
		t.Errorf("JWKS requests = %d after a warm Verify, want 2", n)
	}
	e.fail.Store(true)
	if err := rks.Refresh(context.Background()); err == nil {
		t.Error("Refresh against a failing server: no error")
	}
	mustVerify(t, v, e.issue(t, token.Claims{})) // the cached set stays
}

// jwkJSON marshals a go-jose JWK with the given members.
func jwkJSON(t testing.TB, key any, kid, alg, use string) json.RawMessage {
	t.Helper()
	b, err := jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: use}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jwksOf(t testing.TB, keys ...json.RawMessage) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A JWKS holding private or symmetric material, or otherwise malformed, is
// refused as a whole: the verifier keeps the set it had (or has none).
func TestRemoteKeySet_RefusesBadJWKS(t *testing.T) {
	t.Parallel()
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	edPub := edPriv.Public()
	for _, tc := range []struct {
		name, want string
		body       func(e *issuerEnv) []byte
	}{
		{"Ed25519 private key", `private key material ("d")`, func(e *issuerEnv) []byte { return jwksOf(t, jwkJSON(t, edPriv, "k1", "EdDSA", "sig")) }},
		{"ECDSA private key", `private key material ("d")`, func(e *issuerEnv) []byte { return jwksOf(t, jwkJSON(t, ecPriv, "k1", "ES256", "sig")) }},
		{"RSA private key", `private key material ("d")`, func(e *issuerEnv) []byte { return jwksOf(t, jwkJSON(t, rsaPriv, "k1", "RS256", "sig")) }},
		{"symmetric key", `symmetric (kty oct)`, func(e *issuerEnv) []byte {
			return jwksOf(t, jwkJSON(t, []byte("0123456789abcdef0123456789abcdef"), "k1", "HS256", "sig"))
		}},
		{"private key beside good ones", `key 1: private key material`, func(e *issuerEnv) []byte {
			var set struct{ Keys []json.RawMessage }
			b, _ := e.keys.JWKS()
			_ = json.Unmarshal(b, &set)
			return jwksOf(t, append(set.Keys, jwkJSON(t, edPriv, "k2", "EdDSA", "sig"))...)
		}},
		{"duplicate kid", `duplicate kid`, func(e *issuerEnv) []byte {
			return jwksOf(t, jwkJSON(t, edPub, "k1", "EdDSA", "sig"), jwkJSON(t, ecPriv.Public(), "k1", "ES256", "sig"))
		}},
		{"not JSON", `not a JWK set`, func(e *issuerEnv) []byte { return []byte("<html>") }},
		{"no keys member", `no "keys" array`, func(e *issuerEnv) []byte { return []byte(`{"kyes":[]}`) }},
		{"trailing data", `trailing data`, func(e *issuerEnv) []byte { return []byte(`{"keys":[]} {}`) }},
		{"over 1 MiB", `too large`, func(e *issuerEnv) []byte {
			return []byte(`{"keys":[],"pad":"` + strings.Repeat("a", DefaultMaxResponseSize) + `"}`)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newIssuerEnv(t, token.EdDSA)
			tok := e.issue(t, token.Claims{})

			// First fetch refused: no keys at all, fail closed.
			e.setBody(tc.body(e))
			v := e.verifier(t, nil)
			_, err := v.Verify(context.Background(), tok)
			wantUnavailable(t, err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to say %q", err, tc.want)
			}

			// After a good fetch, a refused refetch keeps the good set.
			e.body.Store(nil)
			e.clk.Add(DefaultMinRefetchInterval)
			mustVerify(t, v, tok)
			e.setBody(tc.body(e))
			e.clk.Add(5*time.Minute + time.Second)
			mustVerify(t, v, tok)
			if n := e.requests.Load(); n != 3 {
				t.Errorf("JWKS requests = %d, want 3", n)
			}
		})
	}
}

func TestParseJWKS_SkipsUnusableKeys(t *testing.T) {
	t.Parallel()
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	good := []json.RawMessage{
		jwkJSON(t, edPub, "ed", "EdDSA", "sig"),
		jwkJSON(t, &p256.PublicKey, "ec", "ES256", ""), // use absent is fine
		jwkJSON(t, &rsa2048.PublicKey, "rsa", "RS256", "sig"),
	}
	bad := []json.RawMessage{
		jwkJSON(t, edPub, "enc", "EdDSA", "enc"),
		jwkJSON(t, edPub, "", "EdDSA", "sig"),                       // no kid
		jwkJSON(t, edPub, "../../etc/passwd", "EdDSA", "sig"),       // kid not base64url
		jwkJSON(t, edPub, strings.Repeat("a", 129), "EdDSA", "sig"), // kid too long
		jwkJSON(t, edPub, "noalg", "", "sig"),
		jwkJSON(t, edPub, "none", "none", "sig"),
		jwkJSON(t, edPub, "edES", "ES256", "sig"),
		jwkJSON(t, &p256.PublicKey, "ecEd", "EdDSA", "sig"),
		jwkJSON(t, &p384.PublicKey, "p384", "ES256", "sig"),
		jwkJSON(t, &p384.PublicKey, "es384", "ES384", "sig"),
		jwkJSON(t, &rsa2048.PublicKey, "ps", "PS256", "sig"),
		jwkJSON(t, &rsa2048.PublicKey, "rsaHS", "HS256", "sig"),
		jwkJSON(t, &rsa1024.PublicKey, "small", "RS256", "sig"),
		json.RawMessage(`{"kty":"EC","crv":"P-256","kid":"offcurve","alg":"ES256","x":"AQ","y":"AQ"}`),
		json.RawMessage(`{"kty":"AKP","kid":"future","alg":"ML-DSA-44","pub":"AAAA"}`),
		json.RawMessage(`{"kty":"XYZ","kid":"unknown"}`),
	}
	keys, skipped, err := parseJWKS(jwksOf(t, append(append([]json.RawMessage{}, good...), bad...)...))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 || keys["ed"].alg != token.EdDSA || keys["ec"].alg != token.ES256 || keys["rsa"].alg != token.RS256 {
		t.Errorf("keys = %v", keys)
	}
	if len(skipped) != len(bad) {
		t.Errorf("skipped %d keys, want %d: %q", len(skipped), len(bad), skipped)
	}
}

func TestNewRemoteKeySet_Config(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  RemoteKeySetConfig
		ok   bool
	}{
		{"https", RemoteKeySetConfig{URL: "https://auth.example.com/.well-known/jwks.json"}, true},
		{"loopback http", RemoteKeySetConfig{URL: "http://127.0.0.1:8080/jwks"}, true},
		{"localhost http", RemoteKeySetConfig{URL: "http://localhost:8080/jwks"}, true},
		{"ipv6 loopback http", RemoteKeySetConfig{URL: "http://[::1]:8080/jwks"}, true},
		{"missing URL", RemoteKeySetConfig{}, false},
		{"remote http", RemoteKeySetConfig{URL: "http://auth.example.com/jwks"}, false},
		{"remote http allowed", RemoteKeySetConfig{URL: "http://sessiond:8080/jwks", InsecureAllowHTTP: true}, true},
		{"relative", RemoteKeySetConfig{URL: "/jwks"}, false},
		{"file", RemoteKeySetConfig{URL: "file:///etc/jwks.json"}, false},
		{"user info", RemoteKeySetConfig{URL: "https://u:p@auth.example.com/jwks"}, false},
		{"negative interval", RemoteKeySetConfig{URL: "https://a.example/j", MinRefetchInterval: -1}, false},
		{"MinTTL above MaxTTL", RemoteKeySetConfig{URL: "https://a.example/j", MinTTL: time.Hour, MaxTTL: time.Minute}, false},
		{"negative size", RemoteKeySetConfig{URL: "https://a.example/j", MaxResponseSize: -1}, false},
	} {
		_, err := NewRemoteKeySet(tc.cfg)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestRemoteKeySet_MalformedKidNeverFetches(t *testing.T) {
	t.Parallel()
	e := newIssuerEnv(t, token.EdDSA)
	rks, err := NewRemoteKeySet(RemoteKeySetConfig{URL: e.jwks, Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, kid := range []string{"", "../../keys", "a' OR 1=1 --", "a\x00b", strings.Repeat("k", 10<<10)} {
		if _, err := rks.VerificationKey(context.Background(), kid); !errors.Is(err, token.ErrNotFound) {
			t.Errorf("kid %q: err = %v, want ErrNotFound", kid, err)
		}
	}
	if n := e.requests.Load(); n != 0 {
		t.Errorf("JWKS requests = %d, want 0", n)
	}
}

func TestCheckRedirect_RefusesDowngrade(t *testing.T) {
	t.Parallel()
	mk := func(u string) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, u, nil)
		return r
	}
	if err := checkRedirect(mk("http://a.example/j"), []*http.Request{mk("https://a.example/j")}); err == nil {
		t.Error("https -> http redirect allowed")
	}
	if err := checkRedirect(mk("https://b.example/j"), []*http.Request{mk("https://a.example/j")}); err != nil {
		t.Errorf("https -> https redirect refused: %v", err)
	}
	via := make([]*http.Request, maxRedirects)
	for i := range via {
		via[i] = mk("https://a.example/j")
	}
	if err := checkRedirect(mk("https://a.example/j"), via); err == nil {
		t.Error("redirect loop allowed")
	}
}

// A key that leaves the published set (retired at once after a leak) is
// dropped at the first use after the set's freshness (max-age) ends, even
// when no token with a new kid triggers a refetch.
func TestRemoteKeySet_RetiredKeyDroppedWithinFreshness(t *testing.T) {
	t.Parallel()
	e := newIssuerEnv(t, token.EdDSA)
	v := e.verifier(t, nil)
	old := e.issue(t, token.Claims{})
	mustVerify(t, v, old)
	signer, err := e.keys.Signer()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.keys.Retire(context.Background(), signer.ID); err != nil {
		t.Fatal(err)
	}
	e.clk.Add(DefaultTTL - time.Second) // sessiond's max-age is 300 s
	mustVerify(t, v, old)               // still fresh: documented
	e.clk.Add(time.Second)
	if _, err := v.Verify(context.Background(), old); !errors.Is(err, token.ErrInvalidToken) {
		t.Fatalf("token of a retired key after the set's freshness: %v, want ErrInvalidToken", err)
	}
	// It stays refused, while the refetch rate limit holds.
	e.clk.Add(time.Second)
	if _, err := v.Verify(context.Background(), old); !errors.Is(err, token.ErrInvalidToken) {
		t.Fatalf("second try: %v", err)
	}
}
