package token_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/sessiond/sessiond/token"
)

// A fixed clock keeps the examples' output stable.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func clock() time.Time { return now }

func ExampleIssuer() {
	ctx := context.Background()
	keys, err := token.NewKeys(token.NewMemKeyStore(), token.KeysConfig{Now: clock})
	if err != nil {
		log.Fatal(err)
	}
	if err := keys.Ensure(ctx); err != nil { // creates the first EdDSA key
		log.Fatal(err)
	}
	issuer, err := token.NewIssuer(keys, token.IssuerConfig{
		Issuer:   "https://auth.example.com",
		Audience: []string{"https://api.example.com"},
		Now:      clock,
	})
	if err != nil {
		log.Fatal(err)
	}
	tok, err := issuer.Issue(ctx, token.Claims{
		Subject:   "user-42",
		SessionID: "sess-1",
		Roles:     []string{"admin"},
		Version:   3,
	})
	if err != nil {
		log.Fatal(err)
	}

	verifier, err := token.NewVerifier(keys, token.VerifierConfig{
		Issuer:   "https://auth.example.com",
		Audience: "https://api.example.com",
		Now:      clock,
	})
	if err != nil {
		log.Fatal(err)
	}
	claims, err := verifier.Verify(ctx, tok)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(claims.Subject, claims.Roles, claims.Version, claims.ExpiresAt.Sub(claims.IssuedAt))
	// Output: user-42 [admin] 3 15m0s
}

func ExampleVerifier_Verify() {
	ctx := context.Background()
	keys, _ := token.NewKeys(token.NewMemKeyStore(), token.KeysConfig{Now: clock})
	if err := keys.Ensure(ctx); err != nil {
		log.Fatal(err)
	}
	issuer, _ := token.NewIssuer(keys, token.IssuerConfig{Issuer: "https://auth.example.com", Audience: []string{"api"}, Now: clock})
	tok, _ := issuer.Issue(ctx, token.Claims{Subject: "user-42"})

	// Sixteen minutes later the token has expired.
	later := func() time.Time { return now.Add(16 * time.Minute) }
	verifier, _ := token.NewVerifier(keys, token.VerifierConfig{Issuer: "https://auth.example.com", Audience: "api", Now: later})
	_, err := verifier.Verify(ctx, tok)
	fmt.Println("invalid:", errors.Is(err, token.ErrInvalidToken), "expired:", errors.Is(err, token.ErrExpired))

	// A token with alg "none" is refused whatever it claims.
	_, err = verifier.Verify(ctx, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.")
	fmt.Println("invalid:", errors.Is(err, token.ErrInvalidToken), "expired:", errors.Is(err, token.ErrExpired))
	// Output:
	// invalid: true expired: true
	// invalid: true expired: false
}

func ExampleKeys_Rotate() {
	ctx := context.Background()
	t := now
	keys, _ := token.NewKeys(token.NewMemKeyStore(), token.KeysConfig{
		PublishDelay: 10 * time.Minute, // JWKS max-age 5m + refresh, rounded up
		Now:          func() time.Time { return t },
	})
	if err := keys.Ensure(ctx); err != nil {
		log.Fatal(err)
	}
	first, _ := keys.Signer()
	next, _ := keys.Rotate(ctx)

	signer, _ := keys.Signer()
	fmt.Println("published:", len(keys.List()), "next key signs:", signer.ID == next)
	t = t.Add(10 * time.Minute)
	signer, _ = keys.Signer()
	fmt.Println("after the delay, next key signs:", signer.ID == next)
	// The old key stays in the JWKS until its last token has expired.
	t = t.Add(token.DefaultTokenTTL + token.MaxLeeway)
	pruned, _ := keys.Prune(ctx)
	fmt.Println("pruned the first key:", len(pruned) == 1 && pruned[0] == first.ID)
	// Output:
	// published: 2 next key signs: false
	// after the delay, next key signs: true
	// pruned the first key: true
}

func ExampleNewSealer() {
	kek := []byte("0123456789abcdefghijklmnopqrstuv") // use 32 random bytes from config
	_, err := token.NewSealer(kek)
	fmt.Println(err)
	// Output: token: sealer: key-encryption key: secret is a sequence
}
