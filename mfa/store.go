package mfa

import (
	"context"
	"slices"

	"github.com/sessiond/sessiond/session"
)

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

// TOTPStore keeps each user's authenticator-app credential: at most one per
// user, pending until confirmed. Every backend that holds it implements it
// and runs mfatest.RunTOTP. A missing credential wraps session.ErrNotFound.
type TOTPStore interface {
	// PutTOTP stores c as c.UserID's credential, replacing any other (a new
	// enrolment voids the old one, pending or confirmed).
	PutTOTP(ctx context.Context, c TOTPCredential) error
	// GetTOTP returns userID's credential.
	GetTOTP(ctx context.Context, userID string) (TOTPCredential, error)
	// ConfirmTOTP sets ConfirmedAt of c.UserID's credential to
	// c.ConfirmedAt, only if it is still pending and still the one c names
	// (same sealed secret), and reports whether it did. It is atomic: of
	// concurrent calls exactly one reports true.
	ConfirmTOTP(ctx context.Context, c TOTPCredential) (bool, error)
	// DeleteTOTP removes userID's credential; ErrNotFound if there was none.
	DeleteTOTP(ctx context.Context, userID string) error
}

// PasskeyStore keeps WebAuthn credentials, several per user. A credential
// ID is unique across users: adding one that exists wraps
// session.ErrConflict. Every backend that holds them implements it and runs
// mfatest.RunPasskeys.
type PasskeyStore interface {
	// AddPasskey stores a new credential.
	AddPasskey(ctx context.Context, c PasskeyCredential) error
	// Passkeys returns userID's credentials, oldest first (none: empty).
	Passkeys(ctx context.Context, userID string) ([]PasskeyCredential, error)
	// PasskeyByID returns the credential with this ID (for a passwordless
	// sign-in, which names the credential before the user); ErrNotFound if
	// none.
	PasskeyByID(ctx context.Context, id []byte) (PasskeyCredential, error)
	// RemovePasskey removes userID's credential with this ID; ErrNotFound if
	// the user has none with it.
	RemovePasskey(ctx context.Context, userID string, id []byte) error
	// UsePasskey records a verified assertion: c (from
	// PasskeyCredential.Used) gives the new SignCount, BackupState and
	// LastUsedAt of c.UserID's credential c.ID. It applies the clone rule
	// atomically against the stored counter: unless the new counter is
	// greater than the stored one (or both are 0), nothing changes and the
	// error wraps ErrClonedAuthenticator; so of concurrent uses of one
	// counter value exactly one succeeds. ErrNotFound if there is no such
	// credential.
	UsePasskey(ctx context.Context, c PasskeyCredential) error
}

// FactorEraser removes every second factor of a user at once: the TOTP
// credential, all passkeys and all recovery codes (an admin reset, or the
// erasure of the account). It is not an error when there are none.
type FactorEraser interface {
	DeleteFactors(ctx context.Context, userID string) error
}

// Store is everything a backend keeps for second factors; memstore,
// sqlitestore and pgstore implement it and run mfatest.Run.
type Store interface {
	StepStore
	RecoveryStore
	TOTPStore
	PasskeyStore
	FactorEraser
}

// Errors of the stores, the session package's sentinels shared by every
// backend.
var (
	// ErrNotFound: no such credential.
	ErrNotFound = session.ErrNotFound
	// ErrConflict: a passkey with that credential ID exists.
	ErrConflict = session.ErrConflict
)

// Clone returns a copy of c sharing no memory with it.
func (c TOTPCredential) Clone() TOTPCredential {
	c.Sealed = slices.Clone(c.Sealed)
	return c
}

// Clone returns a copy of p sharing no memory with it.
func (p PasskeyCredential) Clone() PasskeyCredential {
	p.ID, p.PublicKey, p.AAGUID = slices.Clone(p.ID), slices.Clone(p.PublicKey), slices.Clone(p.AAGUID)
	p.Transports = slices.Clone(p.Transports)
	return p
}

// CounterAccepted is the clone rule of UsePasskey: a new signature counter
// is accepted when it is greater than the stored one, or both are 0 (an
// authenticator without a counter).
func CounterAccepted(stored, next uint32) bool {
	return next > stored || next == 0 && stored == 0
}
