package mfa_test

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/mfa"
)

// The tests' own HOTP/TOTP is right: RFC 4226 Appendix D and RFC 6238
// Appendix B (SHA-1).
func TestIndependentOTP_RFCVectors(t *testing.T) {
	hotpWant := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for i, want := range hotpWant {
		if got := hotp(rfcSecret, uint64(i), 6); got != want {
			t.Errorf("RFC 4226 count %d: %s, want %s", i, got, want)
		}
	}
	totpWant := map[int64]string{59: "94287082", 1111111109: "07081804", 1111111111: "14050471",
		1234567890: "89005924", 2000000000: "69279037", 20000000000: "65353130"}
	for sec, want := range totpWant {
		if got := hotp(rfcSecret, uint64(sec/30), 8); got != want {
			t.Errorf("RFC 6238 T=%d: %s, want %s", sec, got, want)
		}
	}
}

// The package agrees with the RFC 6238 vectors (6-digit form: the last six
// digits) for the RFC's secret.
func TestTOTP_RFC6238Vectors(t *testing.T) {
	for sec, want := range map[int64]string{59: "287082", 1111111109: "081804", 1111111111: "050471",
		1234567890: "005924", 2000000000: "279037", 20000000000: "353130"} {
		c := &clock{t: time.Unix(sec, 0)}
		tp, _ := newTOTP(t, c, true)
		e, err := tp.Enrol("u1", "alice@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tp.Confirm(context.Background(), e.Credential, want); err != nil {
			t.Errorf("T=%d code %s: %v", sec, want, err)
		}
	}
}

func TestTOTP_EnrolURIAndPending(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	tp, _ := newTOTP(t, c, false)
	ctx := context.Background()
	e, err := tp.Enrol("u1", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(e.URI)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Example Corp:alice@example.com" ||
		q.Get("secret") != e.Secret || q.Get("issuer") != "Example Corp" || q.Get("algorithm") != "SHA1" ||
		q.Get("digits") != "6" || q.Get("period") != "30" {
		t.Fatalf("otpauth URI %q", e.URI)
	}
	if len(e.Secret) != 32 { // 160 bits in base32 without padding
		t.Fatalf("secret %q: want 32 base32 characters", e.Secret)
	}
	if bytes.Contains(e.Credential.Sealed, []byte(e.Secret)) {
		t.Fatal("the stored credential holds the secret in the clear")
	}
	for _, s := range []string{e.String(), strings.ReplaceAll(e.GoString(), " ", "")} {
		if strings.Contains(s, e.Secret) {
			t.Fatalf("formatting the enrolment shows the secret: %s", s)
		}
	}
	if !e.Credential.Pending() || e.Credential.UserID != "u1" || !e.Credential.CreatedAt.Equal(c.Now()) {
		t.Fatalf("credential %+v", e.Credential)
	}

	code := authenticatorApp(e.Secret, c.Now())
	if err := tp.Verify(ctx, e.Credential, code); !errors.Is(err, mfa.ErrNotConfirmed) {
		t.Fatalf("verify before confirmation: want ErrNotConfirmed, got %v", err)
	}
	wrong := code[:5] + string(rune('0'+(code[5]-'0'+1)%10))
	if _, err := tp.Confirm(ctx, e.Credential, wrong); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("confirm with a wrong code: want ErrInvalidCode, got %v", err)
	}
	cred, err := tp.Confirm(ctx, e.Credential, code)
	if err != nil || cred.Pending() || !cred.ConfirmedAt.Equal(c.Now()) {
		t.Fatalf("confirm: %+v %v", cred, err)
	}
	// The confirming code is spent: it cannot sign in too.
	if err := tp.Verify(ctx, cred, code); !errors.Is(err, mfa.ErrReplayed) {
		t.Fatalf("confirming code reused: want ErrReplayed, got %v", err)
	}
	c.Set(c.Now().Add(30 * time.Second))
	if err := tp.Verify(ctx, cred, authenticatorApp(e.Secret, c.Now())); err != nil {
		t.Fatalf("next step's code: %v", err)
	}
}

// One step of clock skew either side is accepted, two are not.
func TestTOTP_Skew(t *testing.T) {
	base := time.Date(2026, 3, 4, 5, 6, 15, 0, time.UTC) // mid-step
	for _, tc := range []struct {
		name  string
		steps int
		ok    bool
	}{{"now", 0, true}, {"one behind", -1, true}, {"one ahead", 1, true}, {"two behind", -2, false}, {"two ahead", 2, false}} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: base}
			tp, _ := newTOTP(t, c, false)
			e, err := tp.Enrol("u1", "alice@example.com")
			if err != nil {
				t.Fatal(err)
			}
			cred := e.Credential
			cred.ConfirmedAt = base
			code := authenticatorApp(e.Secret, base.Add(time.Duration(tc.steps)*30*time.Second))
			err = tp.Verify(context.Background(), cred, code)
			if tc.ok && err != nil {
				t.Fatalf("code %d steps away refused: %v", tc.steps, err)
			}
			if !tc.ok && !errors.Is(err, mfa.ErrInvalidCode) {
				t.Fatalf("code %d steps away: want ErrInvalidCode, got %v", tc.steps, err)
			}
		})
	}
}

// A code accepted once is refused again, and so is a code of an earlier step
// of the same window.
func TestTOTP_ReplayRefused(t *testing.T) {
	tp, cred, secret, c := confirmedTOTP(t)
	ctx := context.Background()
	now, prev := authenticatorApp(secret, c.Now()), authenticatorApp(secret, c.Now().Add(-30*time.Second))
	if err := tp.Verify(ctx, cred, now); err != nil {
		t.Fatal(err)
	}
	c.Set(c.Now().Add(10 * time.Second)) // same step, later
	for _, code := range []string{now, prev, now[:3] + " " + now[3:]} {
		err := tp.Verify(ctx, cred, code)
		if !errors.Is(err, mfa.ErrReplayed) || !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("replayed %q: want ErrReplayed and ErrInvalidCode, got %v", code, err)
		}
	}
}

// The same valid code sent 20 times at once is accepted exactly once.
func TestTOTP_ParallelBurstAcceptedOnce(t *testing.T) {
	tp, cred, secret, c := confirmedTOTP(t)
	code := authenticatorApp(secret, c.Now())
	ok, replayed := burst(t, mfa.ErrReplayed, func() error { return tp.Verify(context.Background(), cred, code) })
	if ok != 1 || replayed != 19 {
		t.Fatalf("accepted %d, refused as replay %d; want 1 and 19", ok, replayed)
	}
}

func TestTOTP_MalformedCodes(t *testing.T) {
	tp, cred, secret, c := confirmedTOTP(t)
	good := authenticatorApp(secret, c.Now())
	for _, code := range []string{"", "12345", "1234567", good + "0", "12a456", "١٢٣٤٥٦", "-12345", "+12345", strings.Repeat("1", 1<<16)} {
		if err := tp.Verify(context.Background(), cred, code); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Errorf("code %.20q: want ErrInvalidCode, got %v", code, err)
		}
	}
}

// A sealed secret opens only for the user it was sealed for: copied to
// another account (or tampered with), it verifies nothing.
func TestTOTP_SealedSecretBoundToUser(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 4, 5, 6, 15, 0, time.UTC)}
	tp, _ := newTOTP(t, c, false)
	ctx := context.Background()
	e, err := tp.Enrol("alice", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	code := authenticatorApp(e.Secret, c.Now())

	moved := e.Credential
	moved.UserID = "mallory"
	moved.ConfirmedAt = c.Now()
	if err := tp.Verify(ctx, moved, code); err == nil || errors.Is(err, mfa.ErrReplayed) {
		t.Fatalf("alice's secret verified for mallory: %v", err)
	}
	tampered := e.Credential
	tampered.Sealed = bytes.Clone(tampered.Sealed)
	tampered.Sealed[len(tampered.Sealed)-1] ^= 1
	if _, err := tp.Confirm(ctx, tampered, code); err == nil {
		t.Fatal("tampered secret accepted")
	}
	other, _ := newTOTP(t, c, false) // same KEK, fresh state: alice's own credential still works
	if _, err := other.Confirm(ctx, e.Credential, code); err != nil {
		t.Fatalf("alice's own credential: %v", err)
	}
}

func TestNewTOTP_RequiresSealerStepsIssuer(t *testing.T) {
	st := mfa.NewMemory()
	for name, cfg := range map[string]mfa.TOTPConfig{
		"no issuer":       {Sealer: testSealer(t), Steps: st},
		"colon in issuer": {Issuer: "a:b", Sealer: testSealer(t), Steps: st},
		"no sealer":       {Issuer: "x", Steps: st},
		"no steps":        {Issuer: "x", Sealer: testSealer(t)},
	} {
		if _, err := mfa.NewTOTP(cfg); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

func TestQRCodePNG(t *testing.T) {
	c := &clock{t: time.Now()}
	tp, _ := newTOTP(t, c, false)
	e, err := tp.Enrol("u1", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	b, err := mfa.QRCodePNG(e.URI, 0)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if r := img.Bounds(); r.Dx() != 256 || r.Dy() != 256 {
		t.Fatalf("QR code is %v, want 256×256", r)
	}
	for _, bad := range []struct {
		uri  string
		size int
	}{{e.URI, 32}, {e.URI, 4096}, {"https://example.com/", 256}, {"otpauth://%zz", 256}} {
		if _, err := mfa.QRCodePNG(bad.uri, bad.size); err == nil {
			t.Errorf("QRCodePNG(%q, %d): want an error", bad.uri, bad.size)
		}
	}
}
