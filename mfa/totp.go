package mfa

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"image/png"
	"io"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters (RFC 6238 with the values every authenticator app
// supports): HMAC-SHA-1, 6 digits, 30-second steps, one step of clock skew
// accepted either side, 160-bit secrets.
const (
	TOTPPeriod     = 30 * time.Second
	TOTPDigits     = 6
	TOTPSkew       = 1
	TOTPSecretSize = 20
)

// Errors of second-factor checks. Every wrong, malformed or replayed code
// wraps ErrInvalidCode, so a caller answers them all alike; a replay also
// wraps ErrReplayed, for the audit log.
var (
	// ErrInvalidCode: the code is wrong, malformed, outside the accepted
	// window, already used, or not one of the user's recovery codes.
	ErrInvalidCode = errors.New("invalid code")
	// ErrReplayed: the TOTP code was right but its time step (or a later
	// one) was already accepted.
	ErrReplayed = errors.New("code already used")
	// ErrNotConfirmed: the TOTP enrolment is still pending; only Confirm
	// accepts a code for it.
	ErrNotConfirmed = errors.New("totp enrolment not confirmed")
)

// TOTPConfig configures a TOTP verifier. Zero values are the documented
// defaults; Issuer, Sealer and Steps are required.
type TOTPConfig struct {
	// Issuer names the service in the authenticator app ("sessiond",
	// "Example Corp"). It must not contain ':'.
	Issuer string
	// Sealer encrypts secrets at rest: a *token.Sealer built from the
	// deployment's key-encryption key.
	Sealer Sealer
	// Steps records the last accepted step of each user (replay refusal).
	Steps StepStore
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Rand is the source of secrets; default crypto/rand.Reader.
	Rand io.Reader
}

// TOTP enrols authenticator apps and verifies their codes. It is safe for
// concurrent use.
type TOTP struct {
	cfg TOTPConfig
}

// NewTOTP returns a TOTP for cfg, or an error naming what is missing.
func NewTOTP(cfg TOTPConfig) (*TOTP, error) {
	switch {
	case cfg.Issuer == "" || strings.Contains(cfg.Issuer, ":"):
		return nil, errors.New("mfa: new totp: Issuer must be set and must not contain ':'")
	case cfg.Sealer == nil:
		return nil, errors.New("mfa: new totp: Sealer (the key-encryption key) is required")
	case cfg.Steps == nil:
		return nil, errors.New("mfa: new totp: Steps store is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	return &TOTP{cfg: cfg}, nil
}

// TOTPCredential is a user's authenticator-app enrolment as a store keeps
// it. The secret is only ever held sealed.
type TOTPCredential struct {
	// UserID is the owner; the sealed secret opens only for this ID.
	UserID string
	// Sealed is the secret, sealed with the user ID as associated data.
	Sealed []byte
	// CreatedAt is when enrolment started.
	CreatedAt time.Time
	// ConfirmedAt is when the first correct code confirmed the enrolment;
	// zero while it is pending.
	ConfirmedAt time.Time
}

// Pending reports whether the enrolment still awaits its first code.
func (c TOTPCredential) Pending() bool { return c.ConfirmedAt.IsZero() }

// TOTPEnrolment is what starting an enrolment gives: the credential to store
// (pending) and what the user needs once to set up the app. Secret and URI
// are shown to the user and never stored or logged; String and GoString
// leave them out.
type TOTPEnrolment struct {
	// Credential is the pending credential to store.
	Credential TOTPCredential
	// Secret is the base32 secret (no padding) for typing in by hand.
	Secret string
	// URI is the otpauth:// key URI with issuer and account, for the QR code.
	URI string
}

// String implements fmt.Stringer without the secret.
func (e TOTPEnrolment) String() string {
	return fmt.Sprintf("mfa.TOTPEnrolment{UserID: %q, secret and URI redacted}", e.Credential.UserID)
}

// GoString implements fmt.GoStringer without the secret.
func (e TOTPEnrolment) GoString() string { return e.String() }

// Enrol starts an enrolment for userID, labelled account in the app
// (usually the email address; it must not contain ':'). The credential is
// pending until Confirm accepts a code.
func (t *TOTP) Enrol(userID, account string) (*TOTPEnrolment, error) {
	if userID == "" || account == "" || strings.Contains(account, ":") {
		return nil, errors.New("mfa: enrol totp: user ID and account (without ':') are required")
	}
	raw := make([]byte, TOTPSecretSize)
	if _, err := io.ReadFull(t.cfg.Rand, raw); err != nil {
		return nil, fmt.Errorf("mfa: enrol totp: %w", err)
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: t.cfg.Issuer, AccountName: account, Secret: raw,
		Period: uint(TOTPPeriod / time.Second), Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return nil, fmt.Errorf("mfa: enrol totp: %w", err)
	}
	sealed, err := t.cfg.Sealer.Seal(raw, totpAD(userID))
	if err != nil {
		return nil, fmt.Errorf("mfa: enrol totp: %w", err)
	}
	return &TOTPEnrolment{
		Credential: TOTPCredential{UserID: userID, Sealed: sealed, CreatedAt: t.cfg.Now()},
		Secret:     key.Secret(),
		URI:        key.URL(),
	}, nil
}

// Confirm checks the first code of a pending enrolment and returns the
// credential confirmed (ConfirmedAt set). The code's step is recorded, so
// the same code cannot then sign in. A credential already confirmed is
// checked like Verify and returned unchanged.
func (t *TOTP) Confirm(ctx context.Context, c TOTPCredential, code string) (TOTPCredential, error) {
	if err := t.check(ctx, c, code); err != nil {
		return c, fmt.Errorf("mfa: confirm totp: %w", err)
	}
	if c.Pending() {
		c.ConfirmedAt = t.cfg.Now()
	}
	return c, nil
}

// Verify checks a code against a confirmed credential: right for the current
// 30-second step or one either side, and not of a step at or before the last
// one accepted for the user (so a code works once). Errors wrap
// ErrInvalidCode (and ErrReplayed for a reused code), ErrNotConfirmed for a
// pending enrolment, or the store's error.
func (t *TOTP) Verify(ctx context.Context, c TOTPCredential, code string) error {
	if c.Pending() {
		return fmt.Errorf("mfa: verify totp: %w", ErrNotConfirmed)
	}
	if err := t.check(ctx, c, code); err != nil {
		return fmt.Errorf("mfa: verify totp: %w", err)
	}
	return nil
}

func (t *TOTP) check(ctx context.Context, c TOTPCredential, code string) error {
	code = strings.ReplaceAll(code, " ", "")
	if !sixDigits(code) {
		return ErrInvalidCode
	}
	raw, err := t.cfg.Sealer.Open(c.Sealed, totpAD(c.UserID))
	if err != nil {
		return fmt.Errorf("open secret: %w", err)
	}
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw)
	opts := hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	cur := t.cfg.Now().Unix() / int64(TOTPPeriod/time.Second)
	matched := int64(-1)
	for step := cur - TOTPSkew; step <= cur+TOTPSkew; step++ {
		if step < 0 {
			continue
		}
		want, err := hotp.GenerateCodeCustom(secret, uint64(step), opts)
		if err != nil {
			return fmt.Errorf("code: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			matched = step // the latest match: recording it refuses more, never less
		}
	}
	if matched < 0 {
		return ErrInvalidCode
	}
	ok, err := t.cfg.Steps.AdvanceTOTPStep(ctx, c.UserID, matched)
	if err != nil {
		return fmt.Errorf("record step: %w", err)
	}
	if !ok {
		return fmt.Errorf("%w: %w", ErrInvalidCode, ErrReplayed)
	}
	return nil
}

func sixDigits(s string) bool {
	if len(s) != TOTPDigits {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// totpAD is the associated data of a sealed TOTP secret: it binds the secret
// to its user.
func totpAD(userID string) []byte {
	return []byte("sessiond/mfa/totp/v1\x00" + userID)
}

// QRCodePNG renders an otpauth:// URI (TOTPEnrolment.URI) as a QR code in a
// PNG image of size×size pixels; size 0 means 256, and it must be between 64
// and 1024.
func QRCodePNG(uri string, size int) ([]byte, error) {
	if size == 0 {
		size = 256
	}
	if size < 64 || size > 1024 {
		return nil, fmt.Errorf("mfa: qr code: size %d outside 64..1024", size)
	}
	if !strings.HasPrefix(uri, "otpauth://") {
		return nil, errors.New("mfa: qr code: not an otpauth:// URI")
	}
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		return nil, fmt.Errorf("mfa: qr code: %w", err)
	}
	img, err := key.Image(size, size)
	if err != nil {
		return nil, fmt.Errorf("mfa: qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("mfa: qr code: %w", err)
	}
	return buf.Bytes(), nil
}
