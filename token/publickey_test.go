package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"testing"
)

func TestNewPublicKey_VerifiesWhatThePrivateKeySigned(t *testing.T) {
	t.Parallel()
	for _, alg := range []Alg{EdDSA, ES256, RS256} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clk := newClock()
			keys, err := NewKeys(NewMemKeyStore(), KeysConfig{Alg: alg, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			if err := keys.Ensure(ctx); err != nil {
				t.Fatal(err)
			}
			iss, err := NewIssuer(keys, IssuerConfig{Issuer: testIssuer, Audience: []string{testAudience}, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := iss.Issue(ctx, Claims{Subject: "u1"})
			if err != nil {
				t.Fatal(err)
			}
			signer, _ := keys.Signer()
			pk, err := NewPublicKey(signer.ID, alg, signer.Public())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := MarshalKey(pk); err == nil {
				t.Error("MarshalKey of a public-only key succeeded")
			}
			v, err := NewVerifier(staticKeySet{pk}, VerifierConfig{Issuer: testIssuer, Audience: testAudience, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(ctx, tok); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

type staticKeySet struct{ k *Key }

func (s staticKeySet) VerificationKey(_ context.Context, kid string) (*Key, error) {
	if kid != s.k.ID {
		return nil, ErrNotFound
	}
	return s.k.clone(), nil
}

func TestNewPublicKey_Refuses(t *testing.T) {
	t.Parallel()
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	big2048 := new(big.Int).Lsh(big.NewInt(1), 2047)
	//lint:ignore SA1019 an invalid point, on purpose
	offCurve := &ecdsa.PublicKey{Curve: elliptic.P256(), X: big.NewInt(1), Y: big.NewInt(1)}
	for name, tc := range map[string]struct {
		kid string
		alg Alg
		pub any
	}{
		"bad kid":        {"../etc/passwd", EdDSA, edPub},
		"HS256":          {"k1", HS256, []byte("0123456789abcdef0123456789abcdef")},
		"none":           {"k1", "none", edPub},
		"ed as ES256":    {"k1", ES256, edPub},
		"P-384 as ES256": {"k1", ES256, &p384.PublicKey},
		"off curve":      {"k1", ES256, offCurve},
		"ec as EdDSA":    {"k1", EdDSA, &p256.PublicKey},
		"short ed":       {"k1", EdDSA, edPub[:16]},
		"RSA 1024":       {"k1", RS256, &small.PublicKey},
		"RSA even e":     {"k1", RS256, &rsa.PublicKey{N: big2048, E: 65536}},
		"private as pub": {"k1", EdDSA, ed25519.PrivateKey(make([]byte, 64))},
		"rsa nil":        {"k1", RS256, (*rsa.PublicKey)(nil)},
	} {
		if _, err := NewPublicKey(tc.kid, tc.alg, tc.pub); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewPublicKey("k1", EdDSA, edPub); err != nil {
		t.Errorf("valid key refused: %v", err)
	}

}
