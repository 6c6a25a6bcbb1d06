package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
)

// mustRefuse asserts that Verify fails with ErrInvalidToken and no panic.
func mustRefuse(t *testing.T, v *Verifier, tok string) error {
	t.Helper()
	c, err := v.Verify(context.Background(), tok)
	if err == nil {
		t.Fatalf("token accepted, claims %+v", c)
	}
	if !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("error %v does not match ErrInvalidToken", err)
	}
	if c != nil {
		t.Fatalf("claims returned with error %v", err)
	}
	t.Logf("refused: %.200v", err)
	return err
}

func mustAccept(t *testing.T, v *Verifier, tok string) *Claims {
	t.Helper()
	c, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("token refused: %v", err)
	}
	return c
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, alg := range allAlgs {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, alg)
			in := userClaims()
			in.Act = &Actor{Subject: "svc-a", ClientID: "gateway", Act: &Actor{Subject: "svc-b"}}
			in.Extra = map[string]any{"tenant": "blue"}
			tok := e.issue(t, in)

			hdr := headerOf(t, tok)
			wantHdr := map[string]string{"alg": string(alg), "kid": e.key.ID, "typ": "at+jwt"}
			if diff := cmp.Diff(wantHdr, hdr); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			got := mustAccept(t, e.ver, tok)
			want := in
			want.Issuer = testIssuer
			want.Audience = []string{testAudience}
			want.IssuedAt = time.Unix(t0.Unix(), 0)
			want.ExpiresAt = want.IssuedAt.Add(15 * time.Minute)
			want.ID = got.ID
			if len(got.ID) != 22 {
				t.Errorf("jti %q: want 128 bits base64url", got.ID)
			}
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

// headerOf decodes a token's header (test-only; trusts nothing).
func headerOf(t *testing.T, tok string) map[string]string {
	t.Helper()
	seg, _, _ := strings.Cut(tok, ".")
	b, err := decodeSegment(seg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := decodeObject(b)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range m {
		s, err := jsonString(v)
		if err != nil {
			t.Fatalf("header %s: %v", k, err)
		}
		out[k] = s
	}
	return out
}

func TestIssue_OtherTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, EdDSA)
	tok := e.issue(t, userClaims(), WithType("logout+jwt"))
	if got := headerOf(t, tok)["typ"]; got != "logout+jwt" {
		t.Fatalf("typ %q", got)
	}
	mustRefuse(t, e.ver, tok) // an access-token verifier refuses a logout token
	lv, err := NewVerifier(e.keys, VerifierConfig{Issuer: testIssuer, Audience: testAudience, Type: "logout+jwt", Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	mustAccept(t, lv, tok)
	mustRefuse(t, lv, e.issue(t, userClaims()))

	for _, bad := range []string{"", "a b", strings.Repeat("x", 65), "é"} {
		if _, err := e.iss.Issue(context.Background(), userClaims(), WithType(bad)); err == nil {
			t.Errorf("typ %q accepted", bad)
		}
	}
}

func TestIssue_Refusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, EdDSA)
	tests := []struct {
		name string
		edit func(*Claims)
	}{
		{"other issuer", func(c *Claims) { c.Issuer = "https://evil.example" }},
		{"exp before iat", func(c *Claims) { c.ExpiresAt = t0.Add(-time.Minute) }},
		{"lifetime beyond key set TTL", func(c *Claims) { c.ExpiresAt = t0.Add(16 * time.Minute) }},
		{"empty audience member", func(c *Claims) { c.Audience = []string{""} }},
		{"extra shadows registered", func(c *Claims) { c.Extra = map[string]any{"exp": 1} }},
		{"act without sub", func(c *Claims) { c.Act = &Actor{ClientID: "x"} }},
		{"oversized", func(c *Claims) { c.Extra = map[string]any{"blob": strings.Repeat("a", MaxTokenSize)} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := userClaims()
			tt.edit(&c)
			if tok, err := e.iss.Issue(context.Background(), c); err == nil {
				t.Fatalf("issued %s", tok)
			}
		})
	}
	iss, err := NewIssuer(e.keys, IssuerConfig{Issuer: testIssuer, Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Issue(context.Background(), userClaims()); err == nil {
		t.Error("issued without audience")
	}
	if _, err := NewIssuer(e.keys, IssuerConfig{Issuer: testIssuer, TTL: time.Hour}); err == nil {
		t.Error("TTL beyond the key set's TokenTTL accepted")
	}
	empty, _ := NewKeys(NewMemKeyStore(), KeysConfig{})
	iss, _ = NewIssuer(empty, IssuerConfig{Issuer: testIssuer, Audience: []string{testAudience}})
	if _, err := iss.Issue(context.Background(), userClaims()); !errors.Is(err, ErrNoSigningKey) {
		t.Errorf("no key: %v", err)
	}
}

// casings returns every upper/lower casing of s.
func casings(s string) []string {
	out := []string{""}
	for _, r := range s {
		var next []string
		for _, p := range out {
			next = append(next, p+strings.ToLower(string(r)), p+strings.ToUpper(string(r)))
		}
		out = next
	}
	return out
}

func TestRule7_NoneAlgRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, EdDSA)
	payload := mustJSON(t, validClaims())
	loads := e.store.lists.Load()
	for _, alg := range casings("none") {
		t.Run(alg, func(t *testing.T) {
			hdr := mustJSON(t, map[string]any{"alg": alg, "kid": e.key.ID, "typ": "at+jwt"})
			unsigned := b64(hdr) + "." + b64(payload)
			for _, tok := range []string{
				unsigned + ".",                      // the classic: empty signature
				unsigned + "." + b64("signature"),   // some bytes as signature
				forge(t, e.key, hdr, payload),       // even correctly signed
				b64(hdr) + "." + b64(payload) + ".", // and without kid lookups
			} {
				err := mustRefuse(t, e.ver, tok)
				if !strings.Contains(err.Error(), "none") {
					t.Errorf("error %q does not name alg none", err)
				}
			}
		})
	}
	if n := e.store.lists.Load() - loads; n != 0 {
		t.Errorf("none tokens caused %d key loads", n)
	}
}

func TestRule7_AlgPinnedToKey(t *testing.T) {
	t.Parallel()
	for _, alg := range allAlgs {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, alg)
			payload := validClaims()
			for _, claimed := range []string{"EdDSA", "ES256", "RS256", "HS256", "ES384", "RS512", "PS256", "HS512", "Ed25519", strings.ToLower(string(alg)), strings.ToUpper(string(alg)), string(alg) + " "} {
				if claimed == string(alg) {
					continue
				}
				h := validHeader(e.key)
				h["alg"] = claimed
				// Signed with the right key: only the alg header is wrong.
				err := mustRefuse(t, e.ver, forgeWith(t, e.key, h, payload))
				if !strings.Contains(err.Error(), "does not match key") {
					t.Errorf("alg %q: %v", claimed, err)
				}
			}
			mustAccept(t, e.ver, forgeWith(t, e.key, validHeader(e.key), payload))
		})
	}
}

// publicEncodings are the ways an attacker might feed our public key to an
// HMAC verifier as its "secret".
func publicEncodings(t *testing.T, k *Key) map[string][]byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := jose.JSONWebKey{Key: k.Public(), KeyID: k.ID, Algorithm: string(k.Alg), Use: "sig"}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{
		"PEM":      pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		"PEM-crlf": []byte(strings.ReplaceAll(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), "\n", "\r\n")),
		"DER":      der,
		"JWK":      jwk,
	}
	switch p := k.Public().(type) {
	case ed25519.PublicKey:
		out["raw"] = []byte(p)
	case *ecdsa.PublicKey:
		point, err := p.Bytes() // 0x04 || X || Y
		if err != nil {
			t.Fatal(err)
		}
		out["raw-point"] = point
		out["compressed-point"] = append([]byte{0x02 | point[64]&1}, point[1:33]...)
		out["x||y"] = point[1:]
	case *rsa.PublicKey:
		pk1 := x509.MarshalPKCS1PublicKey(p)
		out["PKCS1-DER"] = pk1
		out["PKCS1-PEM"] = pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pk1})
		out["modulus"] = p.N.Bytes()
	}
	return out
}

func TestRule7_HMACWithPublicKeyRefused(t *testing.T) {
	t.Parallel()
	for _, alg := range []Alg{EdDSA, ES256, RS256} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, alg)
			payload := b64(mustJSON(t, validClaims()))
			for name, secret := range publicEncodings(t, e.key) {
				for _, hs := range []string{"HS256", "hs256", "HS384", "HS512"} {
					hdr := b64(mustJSON(t, map[string]any{"alg": hs, "kid": e.key.ID, "typ": "at+jwt"}))
					tok := hdr + "." + payload + "." + hmacSign(secret, hdr+"."+payload)
					t.Run(name+"/"+hs, func(t *testing.T) { mustRefuse(t, e.ver, tok) })
				}
			}
		})
	}
}

func TestRule7_PsychicSignaturesRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ES256)
	n := elliptic.P256().Params().N
	fixed := func(r, s *big.Int) []byte {
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig
	}
	hdr := b64(mustJSON(t, validHeader(e.key)))
	payload := b64(mustJSON(t, validClaims()))
	sigs := map[string][]byte{
		"all-zero-64":     make([]byte, 64),
		"r=s=n":           fixed(n, n),
		"r=0,s=n":         fixed(big.NewInt(0), n),
		"r=n,s=0":         fixed(n, big.NewInt(0)),
		"r=s=1":           fixed(big.NewInt(1), big.NewInt(1)),
		"r=s=n-1":         fixed(new(big.Int).Sub(n, big.NewInt(1)), new(big.Int).Sub(n, big.NewInt(1))),
		"DER r=s=0":       {0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00},
		"all-zero-32":     make([]byte, 32),
		"all-0xff-64":     []byte(strings.Repeat("\xff", 64)),
		"valid+zero-byte": append(rawSign(t, e.key, []byte(hdr+"."+payload)), 0),
	}
	for name, sig := range sigs {
		t.Run(name, func(t *testing.T) {
			mustRefuse(t, e.ver, hdr+"."+payload+"."+base64.RawURLEncoding.EncodeToString(sig))
		})
	}
}

func TestRule7_SignatureCheckedBeforeClaims(t *testing.T) {
	t.Parallel()
	e := newEnv(t, EdDSA)
	c := validClaims()
	c["exp"] = t0.Add(-time.Hour).Unix() // expired, and badly signed
	tok := forgeWith(t, e.key, validHeader(e.key), c)
	tok = tok[:len(tok)-4] + "AAAA"
	err := mustRefuse(t, e.ver, tok)
	if errors.Is(err, ErrExpired) || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("claims were read before the signature: %v", err)
	}
	// A well-signed token with a payload that is not JSON fails on claims.
	err = mustRefuse(t, e.ver, forge(t, e.key, mustJSON(t, validHeader(e.key)), "not json"))
	if strings.Contains(err.Error(), "signature") {
		t.Fatalf("unexpected: %v", err)
	}
}

func TestSignatureStrippedOrTruncated(t *testing.T) {
	t.Parallel()
	for _, alg := range allAlgs {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, alg)
			tok := e.issue(t, userClaims())
			other := e.issue(t, Claims{Subject: "someone-else"})
			i := strings.LastIndexByte(tok, '.')
			body, sig := tok[:i], tok[i+1:]
			raw, _ := base64.RawURLEncoding.DecodeString(sig)
			flip := append([]byte(nil), raw...)
			flip[len(flip)/2] ^= 0x01
			cases := map[string]string{
				"stripped":          body + ".",
				"no third segment":  body,
				"truncated 1 byte":  body + "." + base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1]),
				"truncated half":    body + "." + base64.RawURLEncoding.EncodeToString(raw[:len(raw)/2]),
				"extended":          body + "." + base64.RawURLEncoding.EncodeToString(append(append([]byte(nil), raw...), 0)),
				"bit flipped":       body + "." + base64.RawURLEncoding.EncodeToString(flip),
				"other token's sig": body + other[strings.LastIndexByte(other, '.'):],
				"doubled":           body + "." + sig + sig,
			}
			for name, bad := range cases {
				t.Run(name, func(t *testing.T) { mustRefuse(t, e.ver, bad) })
			}
			mustAccept(t, e.ver, tok)
		})
	}
}

func TestTamperedHeaderOrPayloadRefused(t *testing.T) {
	t.Parallel()
	for _, alg := range allAlgs {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, alg)
			tok := e.issue(t, userClaims())
			parts := strings.Split(tok, ".")
			admin := validClaims()
			admin["roles"] = []string{"admin"}
			h := validHeader(e.key)
			h["typ"] = "JWT"
			other := e.issue(t, Claims{Subject: "mallory"})
			cases := map[string]string{
				"payload replaced": parts[0] + "." + b64(mustJSON(t, admin)) + "." + parts[2],
				"header replaced":  b64(mustJSON(t, h)) + "." + parts[1] + "." + parts[2],
				"payload swapped":  parts[0] + "." + strings.Split(other, ".")[1] + "." + parts[2],
				"header extra ws":  b64(mustJSON(t, validHeader(e.key))+" ") + "." + parts[1] + "." + parts[2],
			}
			for name, bad := range cases {
				t.Run(name, func(t *testing.T) { mustRefuse(t, e.ver, bad) })
			}
		})
	}
}

func TestRule8_KidInjectionRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, EdDSA)
	loads := e.store.lists.Load()
	kids := map[string]any{
		"path traversal": "../../etc/passwd",
		"sql":            "' OR 1=1--",
		"10 KiB":         strings.Repeat("k", 10<<10),
		"7 KiB":          strings.Repeat("k", 7<<10),
		"NUL byte":       e.key.ID + "\x00",
		"NUL only":       "\x00",
		"empty":          "",
		"url":            "https://evil.example/key.json",
		"file":           "/dev/random",
		"command":        "$(reboot)",
		"newline":        e.key.ID + "\n",
		"unicode":        "ключ",
		"number":         12345,
		"null":           nil,
		"array":          []string{e.key.ID},
		"object":         map[string]string{"kid": e.key.ID},
	}
	for name, kid := range kids {
		t.Run(name, func(t *testing.T) {
			h := validHeader(e.key)
			h["kid"] = kid
			mustRefuse(t, e.ver, forgeWith(t, e.key, h, validClaims()))
		})
	}
	if got := e.store.lists.Load() - loads; got != 0 {
		t.Errorf("malformed kids caused %d store loads", got)
	}
	h := validHeader(e.key)
	delete(h, "kid")
	mustRefuse(t, e.ver, forgeWith(t, e.key, h, validClaims()))
}

func TestRule8_UnknownKidReloadsAtMostOncePerInterval(t *testing.T) {
	t.Parallel()
	e := newEnv(t, EdDSA)
	h := validHeader(e.key)
	h["kid"] = "AAAAAAAAAAAAAAAAAAAAAA"
	tok := forgeWith(t, e.key, h, validClaims())
	e.clk.Add(DefaultMinReloadInterval) // the load in newEnv is old enough
	before := e.store.lists.Load()
	for range 100 {
		mustRefuse(t, e.ver, tok)
	}
	if got := e.store.lists.Load() - before; got != 1 {
		t.Fatalf("100 unknown-kid tokens caused %d reloads, want 1", got)
	}
	e.clk.Add(DefaultMinReloadInterval)
	mustRefuse(t, e.ver, tok)
	if got := e.store.lists.Load() - before; got != 2 {
		t.Fatalf("after the interval: %d reloads, want 2", got)
	}
}

func TestRule8_KeyAddedByAnotherNodeIsFoundByReload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, EdDSA)
	// Another node shares the store and rotates.
	other, err := NewKeys(e.store, KeysConfig{Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	iss, _ := NewIssuer(other, IssuerConfig{Issuer: testIssuer, Audience: []string{testAudience}, Now: e.clk.Now})
	tok, err := iss.Issue(context.Background(), userClaims())
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Add(DefaultMinReloadInterval)
	mustAccept(t, e.ver, tok)
}

func TestRule8_RemoteKeyHeadersNeverFollowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, EdDSA)
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[]}`))
	}))
	t.Cleanup(srv.Close)

	attacker := testKey(t, EdDSA)
	attackerJWK, err := jose.JSONWebKey{Key: attacker.Public(), KeyID: attacker.ID, Algorithm: "EdDSA"}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	cert := selfSigned(t, attacker)
	cases := []struct {
		name   string
		signer *Key
		kid    string
		extra  map[string]any
	}{
		{"jku attacker key", attacker, attacker.ID, map[string]any{"jku": srv.URL + "/jwks.json"}},
		{"jku our kid", attacker, e.key.ID, map[string]any{"jku": srv.URL + "/jwks.json"}},
		{"x5u", attacker, attacker.ID, map[string]any{"x5u": srv.URL + "/cert.pem"}},
		{"jwk embedded attacker key", attacker, attacker.ID, map[string]any{"jwk": rawJSON(attackerJWK)}},
		{"jwk embedded, our kid", attacker, e.key.ID, map[string]any{"jwk": rawJSON(attackerJWK)}},
		{"x5c attacker cert", attacker, attacker.ID, map[string]any{"x5c": []string{base64.StdEncoding.EncodeToString(cert)}}},
		// Correctly signed by our key: the header member alone refuses it.
		{"jku on a good token", e.key, e.key.ID, map[string]any{"jku": srv.URL}},
		{"jwk on a good token", e.key, e.key.ID, map[string]any{"jwk": rawJSON(attackerJWK)}},
		{"x5u on a good token", e.key, e.key.ID, map[string]any{"x5u": srv.URL}},
		{"x5c on a good token", e.key, e.key.ID, map[string]any{"x5c": []string{base64.StdEncoding.EncodeToString(cert)}}},
		{"jku null", e.key, e.key.ID, map[string]any{"jku": nil}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]any{"alg": "EdDSA", "kid": tc.kid, "typ": "at+jwt"}
			for k, v := range tc.extra {
				h[k] = v
			}
			mustRefuse(t, e.ver, forgeWith(t, tc.signer, h, validClaims()))
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the verifier made %d requests to URLs named by tokens", n)
	}
}

type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

func selfSigned(t *testing.T, k *Key) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "attacker"},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestRule8_TokenFromAnotherDeploymentRefused(t *testing.T) {
	t.Parallel()
	for _, alg := range allAlgs {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			ours := newEnv(t, alg)
			theirKey := testKey(t, alg)
			if alg == RS256 {
				var err error
				if theirKey, err = rsaKey2(); err != nil {
					t.Fatal(err)
				}
			}
			// Same issuer, audience, alg and claims; only the keys differ.
			theirs := newEnvWithKey(t, theirKey)
			tok := theirs.issue(t, userClaims())
			mustRefuse(t, ours.ver, tok)
			// Even with our kid copied onto their key.
			forged := *theirKey
			forged.ID = ours.key.ID
			mustRefuse(t, ours.ver, forgeWith(t, &forged, validHeader(ours.key), validClaims()))
		})
	}
}

func TestRule9_RequiredClaims(t *testing.T) {
	t.Parallel()
	e := newEnv(t, EdDSA)
	tests := []struct {
		name string
		edit func(map[string]any)
	}{
		{"exp missing", func(c map[string]any) { delete(c, "exp") }},
		{"iat missing", func(c map[string]any) { delete(c, "iat") }},
		{"iss missing", func(c map[string]any) { delete(c, "iss") }},
		{"iss empty", func(c map[string]any) { c["iss"] = "" }},
		{"iss other", func(c map[string]any) { c["iss"] = "https://evil.example.com" }},
		{"iss case differs", func(c map[string]any) { c["iss"] = strings.ToUpper(testIssuer) }},
		{"iss trailing slash", func(c map[string]any) { c["iss"] = testIssuer + "/" }},
		{"iss array", func(c map[string]any) { c["iss"] = []string{testIssuer} }},
		{"aud missing", func(c map[string]any) { delete(c, "aud") }},
		{"aud other", func(c map[string]any) { c["aud"] = "https://other.example.com" }},
		{"aud prefix", func(c map[string]any) { c["aud"] = testAudience + "/v2" }},
		{"aud empty array", func(c map[string]any) { c["aud"] = []string{} }},
		{"aud array without ours", func(c map[string]any) { c["aud"] = []string{"a", "b"} }},
		{"aud number", func(c map[string]any) { c["aud"] = 1 }},
		{"aud null", func(c map[string]any) { c["aud"] = nil }},
		{"aud array of non-strings", func(c map[string]any) { c["aud"] = []any{testAudience, 1} }},
		{"jti missing", func(c map[string]any) { delete(c, "jti") }},
		{"jti empty", func(c map[string]any) { c["jti"] = "" }},
		{"sub number", func(c map[string]any) { c["sub"] = 1 }},
		{"roles string", func(c map[string]any) { c["roles"] = "admin" }},
		{"ver float", func(c map[string]any) { c["ver"] = 1.5 }},
		{"ver string", func(c map[string]any) { c["ver"] = "1" }},
		{"act without sub", func(c map[string]any) { c["act"] = map[string]any{"client_id": "x"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validClaims()
			tt.edit(c)
			mustRefuse(t, e.ver, forgeWith(t, e.key, validHeader(e.key), c))
		})
	}
	t.Run("aud array with ours", func(t *testing.T) {
		c := validClaims()
		c["aud"] = []string{"other", testAudience}
		mustAccept(t, e.ver, forgeWith(t, e.key, validHeader(e.key), c))
	})
	t.Run("sub optional", func(t *testing.T) {
		c := validClaims()
		delete(c, "sub")
		mustAccept(t, e.ver, forgeWith(t, e.key, validHeader(e.key), c))
	})
	t.Run("payload not an object", func(t *testing.T) {
		for _, p := range []string{`[]`, `"x"`, `null`, `1`, ``, `{}{}`, `{"iss":"a"} x`} {
			mustRefuse(t, e.ver, forge(t, e.key, mustJSON(t, validHeader(e.key)), p))
		}
	})
}

func TestRule9_TypRequiredAndExact(t *testing.T) {
	t.Parallel()
	e := newEnv(t, EdDSA)
	for _, tc := range []struct {
		typ any
		ok  bool
	}{
		{"at+jwt", true},
		{"AT+JWT", true},
		{"At+Jwt", true},
		{"application/at+jwt", true},
		{"Application/AT+JWT", true},
		{"JWT", false},
		{"jwt", false},
		{"at+jwt ", false},
		{"at+jwt;charset=utf-8", false},
		{"application/jwt", false},
		{"logout+jwt", false},
		{"text/at+jwt", false},
		{"", false},
		{nil, false},
		{1, false},
		{"missing", false},
	} {
		name, _ := tc.typ.(string)
		t.Run("typ="+name, func(t *testing.T) {
			h := validHeader(e.key)
			h["typ"] = tc.typ
			if tc.typ == "missing" {
				delete(h, "typ")
			}
			tok := forgeWith(t, e.key, h, validClaims())
			if tc.ok {
				mustAccept(t, e.ver, tok)
			} else {
				mustRefuse(t, e.ver, tok)
			}
		})
	}
	// A Verifier configured with the prefixed form matches the short one.
	v, err := NewVerifier(e.keys, VerifierConfig{Issuer: testIssuer, Audience: testAudience, Type: "application/AT+JWT", Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	mustAccept(t, v, forgeWith(t, e.key, validHeader(e.key), validClaims()))
}

func TestRule9_NumericDatesMustBeNumbers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, EdDSA)
	exp := t0.Add(10 * time.Minute).Unix()
	for _, tc := range []struct {
		name string
		exp  string // raw JSON
		ok   bool
	}{
		{"integer", jsonInt(exp), true},
		{"fraction", jsonInt(exp) + ".5", true},
		{"exponent", "1.8e9", true},
		{"string", `"` + jsonInt(exp) + `"`, false},
		{"null", `null`, false},
		{"bool", `true`, false},
		{"negative", `-1`, false},
		{"huge", `1e400`, false},
		{"beyond 9999", `253402300800`, false},
		{"object", `{}`, false},
		{"array", `[` + jsonInt(exp) + `]`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := `{"iss":"` + testIssuer + `","aud":"` + testAudience + `","iat":` + jsonInt(t0.Unix()) + `,"jti":"j","exp":` + tc.exp + `}`
			tok := forge(t, e.key, mustJSON(t, validHeader(e.key)), p)
			if tc.ok {
				mustAccept(t, e.ver, tok)
			} else {
				mustRefuse(t, e.ver, tok)
			}
		})
	}
	for _, claim := range []string{"iat", "nbf"} {
		t.Run(claim+" string", func(t *testing.T) {
			c := validClaims()
			c[claim] = jsonInt(t0.Unix())
			mustRefuse(t, e.ver, forgeWith(t, e.key, validHeader(e.key), c))
		})
	}
}

func jsonInt(n int64) string { return big.NewInt(n).String() }

func TestRule9_CritRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, EdDSA)
	for name, extra := range map[string]map[string]any{
		"crit exp":           {"crit": []string{"exp"}, "exp": 1},
		"crit unknown":       {"crit": []string{"x-custom"}, "x-custom": true},
		"crit empty":         {"crit": []string{}},
		"crit b64":           {"crit": []string{"b64"}, "b64": false},
		"b64 false alone":    {"b64": false},
		"crit not an array":  {"crit": "exp"},
		"zip (JWE-only) set": {"zip": "DEF"},
	} {
		t.Run(name, func(t *testing.T) {
			h := validHeader(e.key)
			for k, v := range extra {
				h[k] = v
			}
			mustRefuse(t, e.ver, forgeWith(t, e.key, h, validClaims()))
		})
	}
	// Unknown non-critical members are ignored (RFC 7515 §4).
	h := validHeader(e.key)
	h["cty"] = "x"
	h["x-note"] = "ok"
	mustAccept(t, e.ver, forgeWith(t, e.key, h, validClaims()))
}

func TestRule9_OversizedRefusedBeforeParsing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, EdDSA)
	// A correctly signed token just under the limit verifies...
	c := validClaims()
	pad := 0
	var tok string
	for {
		c["pad"] = strings.Repeat("p", pad)
		tok = forgeWith(t, e.key, validHeader(e.key), c)
		if len(tok) >= MaxTokenSize-3 {
			break
		}
		pad += max(1, (MaxTokenSize-len(tok))*3/4-2)
	}
	if len(tok) > MaxTokenSize {
		t.Fatalf("test token of %d bytes", len(tok))
	}
	mustAccept(t, e.ver, tok)
	// ...and one byte over the limit is refused by its size alone, even as
	// junk that would make any parser choke.
	for _, over := range []string{
		strings.Repeat("A", MaxTokenSize+1),
		strings.Repeat(".", MaxTokenSize+1),
		tok + strings.Repeat("A", MaxTokenSize+1-len(tok)),
		strings.Repeat("\x00", 1<<20),
	} {
		err := mustRefuse(t, e.ver, over)
		if !strings.Contains(err.Error(), "longer than") {
			t.Errorf("refused for another reason: %v", err)
		}
	}
}

func TestRule9_StrictBase64url(t *testing.T) {
	t.Parallel()
	e := newEnv(t, EdDSA)
	tok := e.issue(t, userClaims())
	p := strings.Split(tok, ".")
	join := func(a, b, c string) string { return a + "." + b + "." + c }
	// nonCanonical changes the unused low bits of the last character.
	nonCanonical := func(s string) string {
		if len(s)%4 == 0 {
			return ""
		}
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		last := strings.IndexByte(alphabet, s[len(s)-1])
		return s[:len(s)-1] + string(alphabet[last|1])
	}
	std := func(s string) string {
		b, _ := base64.RawURLEncoding.DecodeString(s)
		return base64.StdEncoding.EncodeToString(b)
	}
	cases := map[string]string{
		"padded header":      join(base64.URLEncoding.EncodeToString([]byte(mustJSON(t, validHeader(e.key)))), p[1], p[2]),
		"padding appended":   join(p[0]+"=", p[1], p[2]),
		"padded signature":   join(p[0], p[1], p[2]+"=="),
		"std alphabet sig":   join(p[0], p[1], std(p[2])),
		"plus in payload":    join(p[0], strings.Replace(p[1], p[1][:1], "+", 1), p[2]),
		"slash in header":    join(strings.Replace(p[0], p[0][:1], "/", 1), p[1], p[2]),
		"newline in payload": join(p[0], p[1][:10]+"\n"+p[1][10:], p[2]),
		"CR in signature":    join(p[0], p[1], p[2][:10]+"\r"+p[2][10:]),
		"space":              join(p[0], " "+p[1], p[2]),
		"four segments":      tok + ".AAAA",
		"two segments":       p[0] + "." + p[1],
		"one segment":        p[0],
		"empty header":       join("", p[1], p[2]),
		"empty payload":      join(p[0], "", p[2]),
		"all empty":          "..",
		"empty":              "",
		"impossible length":  join(p[0], p[1], p[2]+"A"),
		"leading whitespace": " " + tok,
		"trailing newline":   tok + "\n",
		"JWS JSON form":      `{"payload":"` + p[1] + `","protected":"` + p[0] + `","signature":"` + p[2] + `"}`,
	}
	if s := nonCanonical(p[0]); s != "" && s != p[0] {
		cases["non-canonical header"] = join(s, p[1], p[2])
	}
	if s := nonCanonical(p[1]); s != "" && s != p[1] {
		cases["non-canonical payload"] = join(p[0], s, p[2])
	}
	if s := nonCanonical(p[2]); s != "" && s != p[2] {
		cases["non-canonical signature"] = join(p[0], p[1], s)
	}
	if len(cases) < 22 {
		t.Fatalf("non-canonical cases not built (segment lengths %d %d %d)", len(p[0]), len(p[1]), len(p[2]))
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) { mustRefuse(t, e.ver, bad) })
	}
	mustAccept(t, e.ver, tok)
}

func TestRule9_DuplicateNamesRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, EdDSA)
	kid := e.key.ID
	goodHeader := mustJSON(t, validHeader(e.key))
	goodPayload := mustJSON(t, validClaims())
	exp := jsonInt(t0.Add(10 * time.Minute).Unix())
	iat := jsonInt(t0.Unix())
	base := `"iss":"` + testIssuer + `","aud":"` + testAudience + `","exp":` + exp + `,"iat":` + iat + `,"jti":"j"`
	cases := []struct{ name, header, payload string }{
		{"header alg twice", `{"alg":"none","alg":"EdDSA","kid":"` + kid + `","typ":"at+jwt"}`, goodPayload},
		{"header alg twice reversed", `{"alg":"EdDSA","kid":"` + kid + `","typ":"at+jwt","alg":"none"}`, goodPayload},
		{"header kid twice", `{"alg":"EdDSA","kid":"x","kid":"` + kid + `","typ":"at+jwt"}`, goodPayload},
		{"header typ twice", `{"alg":"EdDSA","kid":"` + kid + `","typ":"JWT","typ":"at+jwt"}`, goodPayload},
		{"header escaped duplicate", `{"alg":"EdDSA","kid":"` + kid + `","typ":"at+jwt","\u0061lg":"EdDSA"}`, goodPayload},
		{"payload exp twice", goodHeader, `{` + base + `,"exp":9999999999}`},
		{"payload sub twice", goodHeader, `{` + base + `,"sub":"a","sub":"admin"}`},
		{"payload aud twice", goodHeader, `{` + base + `,"aud":"other"}`},
		{"payload escaped duplicate", goodHeader, `{` + base + `,"\u0069ss":"` + testIssuer + `"}`},
		{"payload nested duplicate", goodHeader, `{` + base + `,"act":{"sub":"a","sub":"b"}}`},
		{"payload deep duplicate", goodHeader, `{` + base + `,"x":[{"y":{"z":1,"z":2}}]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := mustRefuse(t, e.ver, forge(t, e.key, tc.header, tc.payload))
			if !strings.Contains(err.Error(), "duplicate") {
				t.Errorf("refused for another reason: %v", err)
			}
		})
	}
	// Same names differing in case are distinct members, read exactly.
	tok := forge(t, e.key, goodHeader, `{`+base+`,"ISS":"https://evil.example","Exp":1}`)
	c := mustAccept(t, e.ver, tok)
	if c.Issuer != testIssuer || c.Extra["ISS"] != "https://evil.example" {
		t.Errorf("case-folded names: %+v", c)
	}
}

func TestRule9_LeewayOnTimes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, EdDSA)
	sign := func(edit func(map[string]any)) string {
		c := validClaims()
		edit(c)
		return forgeWith(t, e.key, validHeader(e.key), c)
	}
	at := func(d time.Duration) int64 { return t0.Add(d).Unix() }
	tests := []struct {
		name    string
		edit    func(map[string]any)
		ok      bool
		expired bool
	}{
		{"exp just passed, within leeway", func(c map[string]any) { c["exp"] = at(-29 * time.Second) }, true, false},
		{"exp at leeway edge", func(c map[string]any) { c["exp"] = at(-30 * time.Second) }, false, true},
		{"exp beyond leeway", func(c map[string]any) { c["exp"] = at(-31 * time.Second) }, false, true},
		{"exp long ago", func(c map[string]any) { c["exp"] = 0; c["iat"] = 0 }, false, true},
		{"nbf within leeway", func(c map[string]any) { c["nbf"] = at(30 * time.Second) }, true, false},
		{"nbf beyond leeway", func(c map[string]any) { c["nbf"] = at(31 * time.Second) }, false, false},
		{"nbf past", func(c map[string]any) { c["nbf"] = at(-time.Minute) }, true, false},
		{"iat within leeway", func(c map[string]any) { c["iat"] = at(30 * time.Second) }, true, false},
		{"iat beyond leeway", func(c map[string]any) { c["iat"] = at(31 * time.Second) }, false, false},
		{"iat far future", func(c map[string]any) { c["iat"] = at(24 * time.Hour); c["exp"] = at(25 * time.Hour) }, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := sign(tt.edit)
			if tt.ok {
				mustAccept(t, e.ver, tok)
				return
			}
			err := mustRefuse(t, e.ver, tok)
			if errors.Is(err, ErrExpired) != tt.expired {
				t.Errorf("ErrExpired = %v, want %v (%v)", !tt.expired, tt.expired, err)
			}
		})
	}
	t.Run("issued token expires after its TTL", func(t *testing.T) {
		tok := e.issue(t, userClaims())
		clk := newClock()
		clk.Add(15*time.Minute + 29*time.Second)
		v, _ := NewVerifier(e.keys, VerifierConfig{Issuer: testIssuer, Audience: testAudience, Now: clk.Now})
		mustAccept(t, v, tok)
		clk.Add(time.Second)
		if err := mustRefuse(t, v, tok); !errors.Is(err, ErrExpired) {
			t.Errorf("want ErrExpired, got %v", err)
		}
	})
}

func TestRule9_LeewayAtMost60s(t *testing.T) {
	t.Parallel()
	keys, _ := NewKeys(NewMemKeyStore(), KeysConfig{})
	for _, tc := range []struct {
		leeway time.Duration
		ok     bool
	}{
		{0, true}, {-1, true}, {time.Second, true}, {60 * time.Second, true},
		{60*time.Second + 1, false}, {time.Hour, false},
	} {
		_, err := NewVerifier(keys, VerifierConfig{Issuer: testIssuer, Audience: testAudience, Leeway: tc.leeway})
		if (err == nil) != tc.ok {
			t.Errorf("leeway %s: err %v", tc.leeway, err)
		}
	}
	for _, cfg := range []VerifierConfig{{Audience: testAudience}, {Issuer: testIssuer}} {
		if _, err := NewVerifier(keys, cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}

func TestRule22_StoreDownFailsClosed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, EdDSA)
	good := e.issue(t, userClaims())
	e.store.fail.Store(true)
	e.clk.Add(time.Minute)
	// Known kids need no store: verification goes on.
	mustAccept(t, e.ver, good)
	// An unknown kid needs a reload that fails: an error, but not "invalid
	// token", so the server answers 503, not 401.
	h := validHeader(e.key)
	h["kid"] = "BBBBBBBBBBBBBBBBBBBBBB"
	_, err := e.ver.Verify(context.Background(), forgeWith(t, e.key, h, validClaims()))
	if err == nil || errors.Is(err, ErrInvalidToken) || !errors.Is(err, errStoreDown) {
		t.Fatalf("got %v, want the store error", err)
	}
}

func TestVerify_ExpiredKeyRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, EdDSA)
	old := e.key
	if _, err := e.keys.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A token claiming a long life, signed by the old key after the fact.
	e.clk.Add(DefaultTokenTTL + MaxLeeway)
	c := validClaims()
	c["iat"] = e.clk.Now().Unix()
	c["exp"] = e.clk.Now().Add(time.Hour).Unix()
	mustRefuse(t, e.ver, forgeWith(t, old, validHeader(old), c))
}
