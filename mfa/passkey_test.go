package mfa_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/sessiond/sessiond/mfa"
)

func registered(t *testing.T, signCount uint32, backupEligible bool) mfa.PasskeyCredential {
	t.Helper()
	flags := protocol.FlagUserPresent | protocol.FlagUserVerified
	if backupEligible {
		flags |= protocol.FlagBackupEligible | protocol.FlagBackupState
	}
	wc := &webauthn.Credential{ID: []byte("cred-1"), PublicKey: []byte("cose-key"), AttestationType: "none",
		Transport:     []protocol.AuthenticatorTransport{protocol.USB, protocol.Internal},
		Flags:         webauthn.NewCredentialFlags(flags),
		Authenticator: webauthn.Authenticator{AAGUID: make([]byte, 16), SignCount: signCount}}
	return mfa.NewPasskeyCredential("u1", "YubiKey", wc, time.Unix(1000, 0))
}

func TestPasskeyCredential_RoundTrip(t *testing.T) {
	p := registered(t, 7, true)
	if !p.UserVerified || !p.BackupEligible || !p.BackupState || p.SignCount != 7 || p.Name != "YubiKey" ||
		!slices.Equal(p.Transports, []string{"usb", "internal"}) {
		t.Fatalf("record %+v", p)
	}
	wc := p.WebAuthn()
	if string(wc.ID) != "cred-1" || string(wc.PublicKey) != "cose-key" || wc.Authenticator.SignCount != 7 ||
		!wc.Flags.UserVerified || !wc.Flags.BackupEligible || !wc.Flags.BackupState ||
		wc.Flags.ProtocolValue() != protocol.FlagUserPresent|protocol.FlagUserVerified|protocol.FlagBackupEligible|protocol.FlagBackupState {
		t.Fatalf("webauthn credential %+v", wc)
	}
	u := mfa.PasskeyUser{Handle: []byte("handle"), Name: "alice@example.com", Credentials: []mfa.PasskeyCredential{p, registered(t, 0, false)}}
	if u.WebAuthnDisplayName() != "alice@example.com" || len(u.WebAuthnCredentials()) != 2 || string(u.WebAuthnID()) != "handle" {
		t.Fatalf("user adapter %+v", u)
	}
}

// The clone rule: a signature counter that does not go up is refused.
func TestPasskeyCredential_CounterGoingBackRefused(t *testing.T) {
	now := time.Unix(2000, 0)
	for _, tc := range []struct {
		name          string
		stored, got   uint32
		cloneWarning  bool
		wantCloneRule bool
	}{
		{"counter goes up", 5, 6, false, false},
		{"no counter on either side", 0, 0, false, false},
		{"first counter after none", 0, 1, false, false},
		{"same counter", 5, 5, false, true},
		{"counter goes back", 5, 3, false, true},
		{"counter drops to zero", 5, 0, false, true},
		{"library flagged a clone", 5, 5, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := registered(t, tc.stored, false)
			got := p.WebAuthn()
			got.Authenticator.SignCount = tc.got
			got.Authenticator.CloneWarning = tc.cloneWarning
			next, err := p.Used(&got, now)
			if tc.wantCloneRule {
				if !errors.Is(err, mfa.ErrClonedAuthenticator) || next.SignCount != tc.stored || !next.LastUsedAt.IsZero() {
					t.Fatalf("want ErrClonedAuthenticator and the record unchanged, got %v %+v", err, next)
				}
				return
			}
			if err != nil || next.SignCount != tc.got || !next.LastUsedAt.Equal(now) {
				t.Fatalf("want counter %d and last use now, got %v %+v", tc.got, err, next)
			}
		})
	}
	p := registered(t, 1, false)
	other := p.WebAuthn()
	other.ID = []byte("cred-2")
	other.Authenticator.SignCount = 9
	if _, err := p.Used(&other, now); err == nil {
		t.Fatal("an assertion for another credential updated this one")
	}
}

func TestPasskeyCredential_Factor(t *testing.T) {
	for _, tc := range []struct {
		syncable, uv bool
		want         []string
	}{
		{false, true, []string{"hwk", "user", "mfa"}},
		{true, true, []string{"swk", "user", "mfa"}},
		{false, false, []string{"hwk"}},
	} {
		if got := registered(t, 0, tc.syncable).Factor(tc.uv).AMR; !slices.Equal(got, tc.want) {
			t.Errorf("syncable %v uv %v: amr %v, want %v", tc.syncable, tc.uv, got, tc.want)
		}
	}
}
