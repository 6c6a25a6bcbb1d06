package mfa

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Recovery-code shape: 12 characters of Crockford's base32 alphabet (digits
// and lowercase letters without i, l, o, u), 60 random bits each, shown as
// three groups of four: "7k2m-x9qa-c4vd".
const (
	RecoveryCodeCount = 10
	recoveryAlphabet  = "0123456789abcdefghjkmnpqrstvwxyz"
	recoveryLen       = 12
)

// RecoveryConfig configures recovery codes. Store is required.
type RecoveryConfig struct {
	// Store holds the hashes of unused codes.
	Store RecoveryStore
	// Rand is the source of codes; default crypto/rand.Reader.
	Rand io.Reader
}

// RecoveryCodes issues and checks single-use recovery codes: the way in when
// the authenticator is lost. Only SHA-256 hashes are stored (60 random bits
// per code make a slow hash unnecessary). It is safe for concurrent use.
type RecoveryCodes struct {
	cfg RecoveryConfig
}

// NewRecoveryCodes returns RecoveryCodes for cfg.
func NewRecoveryCodes(cfg RecoveryConfig) (*RecoveryCodes, error) {
	if cfg.Store == nil {
		return nil, errors.New("mfa: new recovery codes: Store is required")
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	return &RecoveryCodes{cfg: cfg}, nil
}

// Generate makes a new set of RecoveryCodeCount (10) codes for userID and
// returns them, to be shown once; the user's previous codes are void.
func (r *RecoveryCodes) Generate(ctx context.Context, userID string) ([]string, error) {
	if userID == "" {
		return nil, errors.New("mfa: generate recovery codes: user ID is required")
	}
	codes := make([]string, 0, RecoveryCodeCount)
	hashes := make([][]byte, 0, RecoveryCodeCount)
	seen := map[string]bool{}
	buf := make([]byte, recoveryLen)
	for len(codes) < RecoveryCodeCount {
		if _, err := io.ReadFull(r.cfg.Rand, buf); err != nil {
			return nil, fmt.Errorf("mfa: generate recovery codes: %w", err)
		}
		var b strings.Builder
		for i, c := range buf {
			if i > 0 && i%4 == 0 {
				b.WriteByte('-')
			}
			b.WriteByte(recoveryAlphabet[c&31]) // 256 is a multiple of 32: no bias
		}
		code := b.String()
		norm, _ := normalizeRecoveryCode(code)
		if seen[norm] {
			continue
		}
		seen[norm] = true
		codes = append(codes, code)
		hashes = append(hashes, recoveryHash(userID, norm))
	}
	if err := r.cfg.Store.ReplaceRecoveryCodes(ctx, userID, hashes); err != nil {
		return nil, fmt.Errorf("mfa: generate recovery codes: %w", err)
	}
	return codes, nil
}

// Use spends one of userID's codes. Case, dashes and spaces do not matter,
// and o, i and l are read as 0, 1 and 1. A wrong, malformed or spent code
// wraps ErrInvalidCode; of concurrent uses of one code exactly one succeeds.
func (r *RecoveryCodes) Use(ctx context.Context, userID, code string) error {
	norm, ok := normalizeRecoveryCode(code)
	if !ok {
		return fmt.Errorf("mfa: use recovery code: %w", ErrInvalidCode)
	}
	used, err := r.cfg.Store.UseRecoveryCode(ctx, userID, recoveryHash(userID, norm))
	if err != nil {
		return fmt.Errorf("mfa: use recovery code: %w", err)
	}
	if !used {
		return fmt.Errorf("mfa: use recovery code: %w", ErrInvalidCode)
	}
	return nil
}

// Remaining is the number of userID's unused codes (0 for a user without
// any).
func (r *RecoveryCodes) Remaining(ctx context.Context, userID string) (int, error) {
	n, err := r.cfg.Store.RecoveryCodesLeft(ctx, userID)
	if err != nil {
		return 0, fmt.Errorf("mfa: recovery codes remaining: %w", err)
	}
	return n, nil
}

// normalizeRecoveryCode returns the 12 canonical characters of a typed code.
func normalizeRecoveryCode(code string) (string, bool) {
	if len(code) > 64 {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(code); i++ {
		c := code[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		switch c {
		case '-', ' ':
			continue
		case 'o':
			c = '0'
		case 'i', 'l':
			c = '1'
		}
		if strings.IndexByte(recoveryAlphabet, c) < 0 {
			return "", false
		}
		b.WriteByte(c)
	}
	if b.Len() != recoveryLen {
		return "", false
	}
	return b.String(), true
}

// recoveryHash is what a store keeps of a code: SHA-256 bound to the user.
func recoveryHash(userID, norm string) []byte {
	h := sha256.Sum256([]byte("sessiond/mfa/recovery/v1\x00" + userID + "\x00" + norm))
	return h[:]
}
