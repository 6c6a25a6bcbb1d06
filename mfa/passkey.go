package mfa

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/sessiond/sessiond/session"
)

// ErrClonedAuthenticator: a WebAuthn assertion's signature counter did not
// go up (WebAuthn §7.2 step 22): two copies of the private key may exist. The
// sign-in is refused and the server audits it.
var ErrClonedAuthenticator = errors.New("authenticator signature counter went back: possible clone")

// PasskeyCredential is a registered WebAuthn credential (a passkey or a
// security key) as a store keeps it: the WebAuthn credential record plus
// what the account page shows. A user may have several.
type PasskeyCredential struct {
	// ID is the credential ID the authenticator chose (at most 1023 bytes).
	ID []byte
	// UserID is the owner.
	UserID string
	// Name is the user's label ("YubiKey", "iPhone").
	Name string
	// PublicKey is the COSE-encoded credential public key.
	PublicKey []byte
	// AAGUID names the authenticator model (16 bytes, may be zeros).
	AAGUID []byte
	// SignCount is the last signature counter seen (0 for authenticators
	// without one, which most synced passkeys are).
	SignCount uint32
	// Transports are the transports the authenticator reported ("usb",
	// "internal", "hybrid", ...), passed back as hints.
	Transports []string
	// AttestationType is the attestation type at registration ("none", ...).
	AttestationType string
	// UserVerified: the registration verified the user (uvInitialized).
	UserVerified bool
	// BackupEligible: the credential can be synced to other devices (a
	// software key, amr swk); it never changes.
	BackupEligible bool
	// BackupState: the credential is currently backed up or synced.
	BackupState bool
	// CreatedAt is the registration time; LastUsedAt the last sign-in with it
	// (zero if never).
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// NewPasskeyCredential makes the record of a credential that
// webauthn.WebAuthn.CreateCredential (or FinishRegistration) verified, for
// userID, named name, registered at now.
func NewPasskeyCredential(userID, name string, c *webauthn.Credential, now time.Time) PasskeyCredential {
	transports := make([]string, 0, len(c.Transport))
	for _, t := range c.Transport {
		transports = append(transports, string(t))
	}
	return PasskeyCredential{
		ID: slices.Clone(c.ID), UserID: userID, Name: name,
		PublicKey: slices.Clone(c.PublicKey), AAGUID: slices.Clone(c.Authenticator.AAGUID),
		SignCount: c.Authenticator.SignCount, Transports: transports, AttestationType: c.AttestationType,
		UserVerified: c.Flags.UserVerified, BackupEligible: c.Flags.BackupEligible, BackupState: c.Flags.BackupState,
		CreatedAt: now,
	}
}

// WebAuthn returns the credential as go-webauthn's record, for the
// webauthn.User handed to the login ceremony.
func (p PasskeyCredential) WebAuthn() webauthn.Credential {
	transports := make([]protocol.AuthenticatorTransport, 0, len(p.Transports))
	for _, t := range p.Transports {
		transports = append(transports, protocol.AuthenticatorTransport(t))
	}
	flags := protocol.FlagUserPresent
	if p.UserVerified {
		flags |= protocol.FlagUserVerified
	}
	if p.BackupEligible {
		flags |= protocol.FlagBackupEligible
	}
	if p.BackupState {
		flags |= protocol.FlagBackupState
	}
	return webauthn.Credential{
		ID: slices.Clone(p.ID), PublicKey: slices.Clone(p.PublicKey), AttestationType: p.AttestationType,
		Transport: transports, Flags: webauthn.NewCredentialFlags(flags),
		Authenticator: webauthn.Authenticator{AAGUID: slices.Clone(p.AAGUID), SignCount: p.SignCount},
	}
}

// Used applies the result of a verified assertion (the credential that
// webauthn.WebAuthn.ValidateLogin returned) at now, and returns the record to
// store: new signature counter, backup state and LastUsedAt. A counter that
// did not go up (unless it is 0 on both sides: an authenticator without a
// counter) wraps ErrClonedAuthenticator, and the record is returned
// unchanged. So does an assertion for another credential ID.
func (p PasskeyCredential) Used(got *webauthn.Credential, now time.Time) (PasskeyCredential, error) {
	if got == nil || !slices.Equal(got.ID, p.ID) {
		return p, errors.New("mfa: passkey used: assertion is for another credential")
	}
	n := got.Authenticator.SignCount
	if got.Authenticator.CloneWarning || !CounterAccepted(p.SignCount, n) {
		return p, fmt.Errorf("mfa: passkey used: counter %d after %d: %w", n, p.SignCount, ErrClonedAuthenticator)
	}
	p.SignCount = n
	p.BackupState = got.Flags.BackupState
	p.LastUsedAt = now
	return p, nil
}

// Factor is what a sign-in with this credential proved: hwk for a
// device-bound credential, swk for a syncable one, and with user
// verification (the assertion's UV flag) a multi-factor authentication on its
// own (AAL2).
func (p PasskeyCredential) Factor(userVerified bool) session.Factor {
	return session.FactorKey(!p.BackupEligible, userVerified)
}

// PasskeyUser adapts a user and their credentials to webauthn.User for the
// registration and login ceremonies.
type PasskeyUser struct {
	// Handle is the WebAuthn user handle: random bytes (up to 64) kept per
	// user, never the email or anything personal.
	Handle []byte
	// Name is the account name shown by the authenticator (the email), and
	// DisplayName the human name (may equal Name).
	Name, DisplayName string
	// Credentials are the user's registered credentials.
	Credentials []PasskeyCredential
}

var _ webauthn.User = PasskeyUser{}

// WebAuthnID implements webauthn.User.
func (u PasskeyUser) WebAuthnID() []byte { return u.Handle }

// WebAuthnName implements webauthn.User.
func (u PasskeyUser) WebAuthnName() string { return u.Name }

// WebAuthnDisplayName implements webauthn.User; it falls back to Name.
func (u PasskeyUser) WebAuthnDisplayName() string {
	if u.DisplayName == "" {
		return u.Name
	}
	return u.DisplayName
}

// WebAuthnCredentials implements webauthn.User.
func (u PasskeyUser) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, 0, len(u.Credentials))
	for _, c := range u.Credentials {
		out = append(out, c.WebAuthn())
	}
	return out
}
