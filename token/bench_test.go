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
	"math/big"
	"strings"
	"testing"
)

// The benchmarks compare Issue and Verify with the bare signature primitive
// on the same signing input (header.payload of a typical access token): the
// difference is what JSON, base64, the strict checks and go-jose cost.

func BenchmarkIssue(b *testing.B) {
	for _, alg := range allAlgs {
		b.Run(string(alg), func(b *testing.B) {
			e := newEnv(b, alg)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.iss.Issue(ctx, userClaims()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range allAlgs {
		b.Run(string(alg), func(b *testing.B) {
			e := newEnv(b, alg)
			ctx := context.Background()
			tok := e.issue(b, userClaims())
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.ver.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRaw is the floor: crypto/ed25519, crypto/ecdsa, crypto/rsa and
// crypto/hmac signing and verifying the same bytes Issue and Verify do.
func BenchmarkRaw(b *testing.B) {
	for _, alg := range allAlgs {
		e := newEnv(b, alg)
		tok := e.issue(b, userClaims())
		input := []byte(tok[:strings.LastIndexByte(tok, '.')])
		sig := rawSign(b, e.key, input)
		name := map[Alg]string{EdDSA: "ed25519", ES256: "ecdsa-P256", RS256: "rsa-3072", HS256: "hmac-sha256"}[alg]
		b.Run(name+"/sign", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				switch p := e.key.priv.(type) {
				case ed25519.PrivateKey:
					ed25519.Sign(p, input)
				case *ecdsa.PrivateKey:
					h := sha256.Sum256(input)
					if _, _, err := ecdsa.Sign(rand.Reader, p, h[:]); err != nil {
						b.Fatal(err)
					}
				case *rsa.PrivateKey:
					h := sha256.Sum256(input)
					if _, err := rsa.SignPKCS1v15(nil, p, crypto.SHA256, h[:]); err != nil {
						b.Fatal(err)
					}
				case []byte:
					m := hmac.New(sha256.New, p)
					m.Write(input)
					m.Sum(nil)
				}
			}
		})
		b.Run(name+"/verify", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ok := false
				switch p := e.key.priv.(type) {
				case ed25519.PrivateKey:
					ok = ed25519.Verify(e.key.pub.(ed25519.PublicKey), input, sig)
				case *ecdsa.PrivateKey:
					h := sha256.Sum256(input)
					r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
					ok = ecdsa.Verify(&p.PublicKey, h[:], r, s)
				case *rsa.PrivateKey:
					h := sha256.Sum256(input)
					ok = rsa.VerifyPKCS1v15(&p.PublicKey, crypto.SHA256, h[:], sig) == nil
				case []byte:
					m := hmac.New(sha256.New, p)
					m.Write(input)
					ok = hmac.Equal(m.Sum(nil), sig)
				}
				if !ok {
					b.Fatal("verify failed")
				}
			}
		})
	}
}
