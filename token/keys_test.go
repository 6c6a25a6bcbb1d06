package token

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestRule11_GenerateKey(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, alg := range allAlgs {
		t.Run(string(alg), func(t *testing.T) {
			k := testKey(t, alg)
			if k.Alg != alg || !k.CreatedAt.Equal(t0) || !k.NotBefore.Equal(t0) || !k.RetiredAt.IsZero() || !k.ExpiresAt.IsZero() {
				t.Errorf("metadata %v", k)
			}
			id, err := base64.RawURLEncoding.DecodeString(k.ID)
			if err != nil || len(id) != 16 {
				t.Errorf("kid %q is not 128 bits of base64url", k.ID)
			}
			if seen[k.ID] {
				t.Errorf("kid %q repeated", k.ID)
			}
			seen[k.ID] = true
			switch p := k.priv.(type) {
			case ed25519.PrivateKey:
				if alg != EdDSA {
					t.Errorf("%s key is Ed25519", alg)
				}
			case *ecdsa.PrivateKey:
				if alg != ES256 || p.Curve != elliptic.P256() {
					t.Errorf("%s key on %v", alg, p.Curve)
				}
			case *rsa.PrivateKey:
				if alg != RS256 || p.N.BitLen() != 3072 {
					t.Errorf("%s key of %d bits, want 3072", alg, p.N.BitLen())
				}
			case []byte:
				if alg != HS256 || len(p) != 32 || k.Public() != nil {
					t.Errorf("%s secret of %d bytes", alg, len(p))
				}
			default:
				t.Errorf("key type %T", p)
			}
		})
	}
	if _, err := GenerateKey("ES384", t0); err == nil {
		t.Error("ES384 generated")
	}
	if _, err := GenerateKey("none", t0); err == nil {
		t.Error("none generated")
	}
}

func TestRule11_HMACSecretStrength(t *testing.T) {
	t.Parallel()
	random := make([]byte, 32)
	if _, err := rand.Read(random); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		secret []byte
		ok     bool
	}{
		{"32 random bytes", random, true},
		{"64 hex digits (openssl rand -hex 32)", []byte(hex.EncodeToString(random)), true},
		{"base64 (openssl rand -base64 32)", []byte(base64.StdEncoding.EncodeToString(random)), true},
		{"31 random bytes", random[:31], false},
		{"empty", nil, false},
		{"all zero", make([]byte, 32), false},
		{"all one byte", bytes.Repeat([]byte{'a'}, 64), false},
		{"two-byte pattern", bytes.Repeat([]byte("ab"), 32), false},
		{"word repeated", bytes.Repeat([]byte("password"), 4), false},
		{"16-byte block repeated", bytes.Repeat(random[:16], 2), false},
		{"alphabet run", []byte("abcdefghijklmnopqrstuvwxyz{|}~\x7f\x80"), false},
		{"counting bytes", func() []byte {
			b := make([]byte, 32)
			for i := range b {
				b[i] = byte(i)
			}
			return b
		}(), false},
		{"short words", []byte("secretsecretsecret-changeme-1234"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := NewHMACKey(tt.secret)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil {
				if strings.Contains(err.Error(), string(tt.secret)) && len(tt.secret) > 0 {
					t.Errorf("error leaks the secret: %v", err)
				}
				return
			}
			k2, err := NewHMACKey(tt.secret)
			if err != nil || k2.ID != k.ID || !ValidKeyID(k.ID) || len(k.ID) != 22 {
				t.Errorf("kid %q / %q not stable or not valid", k.ID, k2.ID)
			}
			if strings.Contains(k.ID, base64.RawURLEncoding.EncodeToString(tt.secret[:8])) {
				t.Errorf("kid reveals the secret")
			}
		})
	}
	// The secret is copied.
	s := append([]byte(nil), random...)
	k, _ := NewHMACKey(s)
	s[0] ^= 0xff
	if !bytes.Equal(k.priv.([]byte), random) {
		t.Error("key aliases the caller's slice")
	}
}

func TestKey_StringHidesPrivateMaterial(t *testing.T) {
	t.Parallel()
	for _, alg := range allAlgs {
		k := testKey(t, alg)
		data, err := MarshalKey(k)
		if err != nil {
			t.Fatal(err)
		}
		var kj struct {
			JWK map[string]any `json:"jwk"`
		}
		if err := json.Unmarshal(data, &kj); err != nil {
			t.Fatal(err)
		}
		secret := fmt.Sprint(kj.JWK["d"], kj.JWK["k"])
		for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
			out := fmt.Sprintf(format, k)
			if strings.Contains(out, secret[:10]) || !strings.Contains(out, k.ID) {
				t.Errorf("%s: %s", format, out)
			}
		}
	}
}

func TestMarshalKey_RoundTrip(t *testing.T) {
	t.Parallel()
	for _, alg := range allAlgs {
		t.Run(string(alg), func(t *testing.T) {
			k := testKey(t, alg)
			k.RetiredAt = t0.Add(time.Hour)
			k.ExpiresAt = t0.Add(2 * time.Hour)
			data, err := MarshalKey(k)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), `"use":"sig"`) || !strings.Contains(string(data), `"alg":"`+string(alg)+`"`) {
				t.Errorf("jwk without use/alg: %s", data)
			}
			got, err := UnmarshalKey(data)
			if err != nil {
				t.Fatal(err)
			}
			again, err := MarshalKey(got)
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != string(data) || got.String() != k.String() {
				t.Errorf("round trip changed the key: %v -> %v", k, got)
			}
			// The loaded key signs tokens the original verifies.
			e := newEnvWithKey(t, got)
			tok := e.issue(t, userClaims())
			mustAccept(t, newEnvWithKey(t, k).ver, tok)
		})
	}
}

func TestUnmarshalKey_Refusals(t *testing.T) {
	t.Parallel()
	ed := testKey(t, EdDSA)
	good, _ := MarshalKey(ed)
	var m map[string]any
	_ = json.Unmarshal(good, &m)
	jwk := m["jwk"].(map[string]any)
	edit := func(f func(jwk map[string]any, top map[string]any)) []byte {
		top := map[string]any{}
		for k, v := range m {
			top[k] = v
		}
		j := map[string]any{}
		for k, v := range jwk {
			j[k] = v
		}
		f(j, top)
		top["jwk"] = j
		b, _ := json.Marshal(top)
		return b
	}
	pub, _ := json.Marshal(map[string]any{"kty": "OKP", "crv": "Ed25519", "x": jwk["x"], "kid": ed.ID, "alg": "EdDSA"})
	tests := map[string][]byte{
		"public only":        []byte(`{"jwk":` + string(pub) + `}`),
		"alg swapped":        edit(func(j, _ map[string]any) { j["alg"] = "ES256" }),
		"alg none":           edit(func(j, _ map[string]any) { j["alg"] = "none" }),
		"alg missing":        edit(func(j, _ map[string]any) { delete(j, "alg") }),
		"kid path":           edit(func(j, _ map[string]any) { j["kid"] = "../x" }),
		"kid missing":        edit(func(j, _ map[string]any) { delete(j, "kid") }),
		"use enc":            edit(func(j, _ map[string]any) { j["use"] = "enc" }),
		"unknown field":      edit(func(_, top map[string]any) { top["extra"] = 1 }),
		"duplicate":          []byte(`{"jwk":` + mustJSON(t, jwk) + `,"jwk":{}}`),
		"not json":           []byte(`jwk`),
		"weak hmac":          []byte(`{"jwk":{"kty":"oct","k":"` + base64.RawURLEncoding.EncodeToString(make([]byte, 32)) + `","kid":"abc","alg":"HS256"}}`),
		"short hmac":         []byte(`{"jwk":{"kty":"oct","k":"AAEC","kid":"abc","alg":"HS256"}}`),
		"hmac claims EdDSA":  []byte(`{"jwk":{"kty":"oct","k":"` + base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("0123456789abcdef", 4))) + `","kid":"abc","alg":"EdDSA"}}`),
		"empty":              nil,
		"jwk is a string":    []byte(`{"jwk":"x"}`),
		"created_at invalid": edit(func(_, top map[string]any) { top["created_at"] = "yesterday" }),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			if k, err := UnmarshalKey(data); err == nil {
				t.Fatalf("accepted: %v", k)
			}
		})
	}
}

func TestRule11_SealerProtectsKeysAtRest(t *testing.T) {
	t.Parallel()
	kek := make([]byte, KEKSize)
	if _, err := rand.Read(kek); err != nil {
		t.Fatal(err)
	}
	s, err := NewSealer(kek)
	if err != nil {
		t.Fatal(err)
	}
	other := make([]byte, KEKSize)
	_, _ = rand.Read(other)
	s2, _ := NewSealer(other)

	msg := []byte(`{"jwk":{"d":"secret"}}`)
	ad := keyAD("kid1", EdDSA)
	sealed, err := s.Seal(msg, ad)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := s.Seal(msg, ad)
	if bytes.Equal(sealed, again) {
		t.Error("two sealings are equal: nonce reused")
	}
	if bytes.Contains(sealed, []byte("secret")) {
		t.Error("plaintext visible")
	}
	if pt, err := s.Open(sealed, ad); err != nil || !bytes.Equal(pt, msg) {
		t.Fatalf("open: %q %v", pt, err)
	}
	flipped := append([]byte(nil), sealed...)
	flipped[len(flipped)-1] ^= 1
	for name, try := range map[string]func() ([]byte, error){
		"other kid":  func() ([]byte, error) { return s.Open(sealed, keyAD("kid2", EdDSA)) },
		"other alg":  func() ([]byte, error) { return s.Open(sealed, keyAD("kid1", ES256)) },
		"other KEK":  func() ([]byte, error) { return s2.Open(sealed, ad) },
		"tampered":   func() ([]byte, error) { return s.Open(flipped, ad) },
		"truncated":  func() ([]byte, error) { return s.Open(sealed[:20], ad) },
		"not sealed": func() ([]byte, error) { return s.Open(msg, ad) },
	} {
		if _, err := try(); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
	for _, bad := range [][]byte{kek[:16], make([]byte, 32), append(kek, 0)} {
		if _, err := NewSealer(bad); err == nil {
			t.Errorf("KEK of %d bytes accepted", len(bad))
		}
	}

	// Through Keys: the store holds ciphertext only, a Keys without the
	// Sealer (or with another KEK) cannot load it, and one with the Sealer
	// refuses a plain key planted in the store.
	ctx := context.Background()
	store := NewMemKeyStore()
	keys, _ := NewKeys(store, KeysConfig{Sealer: s})
	if err := keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	stored, _ := store.ListKeys(ctx)
	if len(stored) != 1 || !isSealed(stored[0].Data) || bytes.Contains(stored[0].Data, []byte(`"d"`)) {
		t.Fatalf("stored key not sealed: %q", stored[0].Data)
	}
	plain, _ := NewKeys(store, KeysConfig{})
	if err := plain.Reload(ctx); err == nil {
		t.Error("sealed key loaded without a Sealer")
	}
	wrong, _ := NewKeys(store, KeysConfig{Sealer: s2})
	if err := wrong.Reload(ctx); err == nil {
		t.Error("sealed key loaded with another KEK")
	}
	// A row's sealed data moved to another kid does not open.
	moved := stored[0]
	moved.ID = "AAAAAAAAAAAAAAAAAAAAAA"
	moveStore := NewMemKeyStore()
	_ = moveStore.PutKey(ctx, moved)
	if err := mustKeys(t, moveStore, KeysConfig{Sealer: s}).Reload(ctx); err == nil {
		t.Error("sealed data accepted under another kid")
	}
	planted := testKey(t, EdDSA)
	data, _ := MarshalKey(planted)
	_ = store.PutKey(ctx, StoredKey{ID: planted.ID, Alg: EdDSA, Data: data, CreatedAt: t0, NotBefore: t0.Add(time.Hour)})
	if err := keys.Reload(ctx); err == nil {
		t.Error("plain key planted in a sealed store was loaded")
	}
}

func mustKeys(t *testing.T, store KeyStore, cfg KeysConfig) *Keys {
	t.Helper()
	k, err := NewKeys(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestRule8_ValidKeyID is the one table for the key-ID rule that the key
// set, the verifier and package verifier (remote JWKS) all share: the hostile
// kids once refused by two copies of the rule, and the edges of the length.
func TestRule8_ValidKeyID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		kid  string
		want bool
	}{
		{"generated", "AAAAAAAAAAAAAAAAAAAAAA", true},
		{"short name", "k1", true},
		{"base64url alphabet", "azAZ09-_", true},
		{"one char", "a", true},
		{"128 chars", strings.Repeat("k", MaxKeyIDLen), true},
		{"129 chars", strings.Repeat("k", MaxKeyIDLen+1), false},
		{"7 KiB", strings.Repeat("k", 7<<10), false},
		{"10 KiB", strings.Repeat("k", 10<<10), false},
		{"empty", "", false},
		{"path traversal", "../../etc/passwd", false},
		{"relative path", "../x", false},
		{"absolute file", "/dev/random", false},
		{"url", "https://evil.example/key.json", false},
		{"sql", "' OR 1=1--", false},
		{"sql spaced", "a' OR 1=1 --", false},
		{"command", "$(reboot)", false},
		{"NUL inside", "a\x00b", false},
		{"NUL only", "\x00", false},
		{"trailing newline", "k1\n", false},
		{"CRLF", "k1\r\nX-Evil: 1", false},
		{"space", "k 1", false},
		{"standard base64", "ab+/", false},
		{"padding", "AA==", false},
		{"dot", "k.1", false},
		{"unicode", "ключ", false},
		{"fullwidth", "ｋ1", false},
		{"invalid utf8", "k\xff", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidKeyID(tc.kid); got != tc.want {
				t.Errorf("ValidKeyID(%q) = %v, want %v", tc.kid, got, tc.want)
			}
		})
	}
}
