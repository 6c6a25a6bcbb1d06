package mfa

import "context"

// Sealer encrypts second-factor secrets at rest. Use *token.Sealer, built from
// the deployment's key-encryption key (token.key_encryption_key): AES-256-GCM
// with a fresh nonce per sealing. The associated data binds a sealed secret
// to its user, so it cannot be copied to another account.
type Sealer interface {
	Seal(plaintext, ad []byte) ([]byte, error)
	Open(sealed, ad []byte) ([]byte, error)
}

// StepStore records, per user, the last TOTP time step that was accepted,
// which is what refuses a code a second time (RFC 6238 §5.2). Every backend
// that holds TOTP state implements it and runs mfatest.RunSteps.
type StepStore interface {
	// AdvanceTOTPStep sets userID's last accepted step to step if step is
	// greater than the one recorded (or none is), and reports whether it
	// did. It is atomic: of concurrent calls with the same step exactly one
	// reports true. Forgetting a user's step (when TOTP is removed) is not
	// needed: steps only grow with time.
	AdvanceTOTPStep(ctx context.Context, userID string, step int64) (bool, error)
}

// RecoveryStore holds the SHA-256 hashes of a user's unused recovery codes.
// Every backend that holds them implements it and runs
// mfatest.RunRecoveryCodes. A user without codes is not an error: the count
// is 0 and nothing can be used.
type RecoveryStore interface {
	// ReplaceRecoveryCodes makes hashes the user's only codes: the old set is
	// void. nil removes them all.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte) error
	// UseRecoveryCode removes the code with this hash and reports whether it
	// was there. It is atomic: of concurrent calls with the same hash
	// exactly one reports true.
	UseRecoveryCode(ctx context.Context, userID string, hash []byte) (bool, error)
	// RecoveryCodesLeft is the number of unused codes.
	RecoveryCodesLeft(ctx context.Context, userID string) (int, error)
}
