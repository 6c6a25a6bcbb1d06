package mfa_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sessiond/sessiond/mfa"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/token"
)

// Enrol an authenticator app, confirm it with its first code, then accept a
// later code exactly once.
func ExampleTOTP() {
	ctx := context.Background()
	kek := make([]byte, token.KEKSize) // in production: token.key_encryption_key
	rand.Read(kek)
	sealer, err := token.NewSealer(kek)
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)
	tp, err := mfa.NewTOTP(mfa.TOTPConfig{Issuer: "Example Corp", Sealer: sealer, Steps: mfa.NewMemory(),
		Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}

	e, err := tp.Enrol("user-42", "alice@example.com")
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(e.URI, "otpauth://totp/Example%20Corp:alice@example.com?"))
	png, err := mfa.QRCodePNG(e.URI, 256) // for the account page
	fmt.Println(len(png) > 0, err)

	// Store e.Credential (pending); the user scans the QR code and types
	// the first code.
	cred, err := tp.Confirm(ctx, e.Credential, authenticatorApp(e.Secret, now))
	fmt.Println(cred.Pending(), err)

	now = now.Add(30 * time.Second) // at the next sign-in
	code := authenticatorApp(e.Secret, now)
	fmt.Println(tp.Verify(ctx, cred, code))
	fmt.Println(errors.Is(tp.Verify(ctx, cred, code), mfa.ErrReplayed))

	a := session.Assurance{}.Add(now, session.FactorPassword).Add(now, session.FactorOTP)
	fmt.Println(a.ACR(), a.AMR)
	// Output:
	// true
	// true <nil>
	// false <nil>
	// <nil>
	// true
	// aal2 [pwd otp mfa]
}

// Issue ten recovery codes, show them once, and spend one.
func ExampleRecoveryCodes() {
	ctx := context.Background()
	rc, err := mfa.NewRecoveryCodes(mfa.RecoveryConfig{Store: mfa.NewMemory()})
	if err != nil {
		panic(err)
	}
	codes, err := rc.Generate(ctx, "user-42")
	if err != nil {
		panic(err)
	}
	fmt.Println(len(codes), len(codes[0]))

	fmt.Println(rc.Use(ctx, "user-42", codes[0]))
	fmt.Println(errors.Is(rc.Use(ctx, "user-42", codes[0]), mfa.ErrInvalidCode))
	left, _ := rc.Remaining(ctx, "user-42")
	fmt.Println(left)
	// Output:
	// 10 14
	// <nil>
	// true
	// 9
}
