package mfatest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sessiond/sessiond/mfa"
)

// Run runs every suite of the package against a backend that implements
// all of mfa.Store.
func Run(t *testing.T, newStore func(t *testing.T) mfa.Store) {
	t.Run("Steps", func(t *testing.T) { RunSteps(t, func(t *testing.T) mfa.StepStore { return newStore(t) }) })
	t.Run("RecoveryCodes", func(t *testing.T) {
		RunRecoveryCodes(t, func(t *testing.T) mfa.RecoveryStore { return newStore(t) })
	})
	t.Run("TOTP", func(t *testing.T) { RunTOTP(t, func(t *testing.T) mfa.TOTPStore { return newStore(t) }) })
	t.Run("Passkeys", func(t *testing.T) { RunPasskeys(t, func(t *testing.T) mfa.PasskeyStore { return newStore(t) }) })
	t.Run("DeleteFactors", func(t *testing.T) { RunDeleteFactors(t, newStore) })
}

// at is a fixed time to the millisecond, as stores keep times.
var at = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func sealed() []byte { return []byte("sealed-" + rand.Text()) }

// RunTOTP runs the TOTPStore conformance suite.
func RunTOTP(t *testing.T, newStore func(t *testing.T) mfa.TOTPStore) {
	ctx := context.Background()

	t.Run("PutGetConfirmDelete", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		u := uniq("u")
		if _, err := st.GetTOTP(ctx, u); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("get before enrolment: want ErrNotFound, got %v", err)
		}
		c := mfa.TOTPCredential{UserID: u, Sealed: sealed(), CreatedAt: at}
		if err := st.PutTOTP(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := st.GetTOTP(ctx, u)
		if err != nil || !got.Pending() {
			t.Fatalf("get pending: %+v, %v", got, err)
		}
		if d := cmp.Diff(c, got); d != "" {
			t.Fatalf("pending credential (-want +got):\n%s", d)
		}
		c.ConfirmedAt = at.Add(time.Minute)
		if ok, err := st.ConfirmTOTP(ctx, c); !ok || err != nil {
			t.Fatalf("confirm: %v, %v", ok, err)
		}
		if ok, err := st.ConfirmTOTP(ctx, c); ok || err != nil {
			t.Fatalf("second confirm: %v, %v; want false", ok, err)
		}
		if got, err = st.GetTOTP(ctx, u); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(c, got); d != "" {
			t.Fatalf("confirmed credential (-want +got):\n%s", d)
		}
		if err := st.DeleteTOTP(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteTOTP(ctx, u); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("second delete: want ErrNotFound, got %v", err)
		}
		if _, err := st.GetTOTP(ctx, u); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("get after delete: want ErrNotFound, got %v", err)
		}
	})

	t.Run("ReEnrolmentVoidsThePendingOne", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		u := uniq("u")
		old := mfa.TOTPCredential{UserID: u, Sealed: sealed(), CreatedAt: at}
		fresh := mfa.TOTPCredential{UserID: u, Sealed: sealed(), CreatedAt: at.Add(time.Second)}
		for _, c := range []mfa.TOTPCredential{old, fresh} {
			if err := st.PutTOTP(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		old.ConfirmedAt = at.Add(time.Minute)
		if ok, err := st.ConfirmTOTP(ctx, old); ok || err != nil {
			t.Fatalf("confirming a replaced enrolment: %v, %v; want false", ok, err)
		}
		got, err := st.GetTOTP(ctx, u)
		if err != nil || !got.Pending() || !bytes.Equal(got.Sealed, fresh.Sealed) {
			t.Fatalf("after re-enrolment: %+v, %v", got, err)
		}
		if ok, err := st.ConfirmTOTP(ctx, mfa.TOTPCredential{UserID: uniq("u"), Sealed: fresh.Sealed, ConfirmedAt: at}); ok || err != nil {
			t.Fatalf("confirming another user's: %v, %v; want false", ok, err)
		}
	})

	t.Run("ConfirmExactlyOneWinner", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		c := mfa.TOTPCredential{UserID: uniq("u"), Sealed: sealed(), CreatedAt: at}
		if err := st.PutTOTP(ctx, c); err != nil {
			t.Fatal(err)
		}
		c.ConfirmedAt = at.Add(time.Minute)
		if n := race(t, func() (bool, error) { return st.ConfirmTOTP(ctx, c) }); n != 1 {
			t.Fatalf("%d of %d concurrent confirmations succeeded, want exactly 1", n, burst)
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := st.PutTOTP(cctx, mfa.TOTPCredential{UserID: uniq("u"), Sealed: sealed(), CreatedAt: at}); err == nil {
			t.Fatal("put with a canceled context: want an error")
		}
	})
}

// newPasskey returns a credential of userID with a random ID.
func newPasskey(userID, name string, created time.Time) mfa.PasskeyCredential {
	return mfa.PasskeyCredential{
		ID: []byte(rand.Text()), UserID: userID, Name: name, PublicKey: []byte("cose-" + rand.Text()),
		AAGUID: bytes.Repeat([]byte{0xad}, 16), SignCount: 5, Transports: []string{"usb", "hybrid"},
		AttestationType: "none", UserVerified: true, BackupEligible: true, BackupState: false, CreatedAt: created,
	}
}

// RunPasskeys runs the PasskeyStore conformance suite.
func RunPasskeys(t *testing.T, newStore func(t *testing.T) mfa.PasskeyStore) {
	ctx := context.Background()
	list := func(t *testing.T, st mfa.PasskeyStore, user string, want ...mfa.PasskeyCredential) {
		t.Helper()
		got, err := st.Passkeys(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want = []mfa.PasskeyCredential{}
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("Passkeys(%s) (-want +got):\n%s", user, d)
		}
	}

	t.Run("AddListRemove", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		u, other := uniq("u"), uniq("u")
		list(t, st, u)
		a, b := newPasskey(u, "YubiKey", at), newPasskey(u, "iPhone", at.Add(time.Second))
		b.Transports, b.AAGUID, b.BackupEligible, b.SignCount = nil, nil, false, 0
		o := newPasskey(other, "other", at)
		for _, c := range []mfa.PasskeyCredential{a, b, o} {
			if err := st.AddPasskey(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		dup := newPasskey(other, "dup", at)
		dup.ID = a.ID
		if err := st.AddPasskey(ctx, dup); !errors.Is(err, mfa.ErrConflict) {
			t.Fatalf("add with a taken credential ID: want ErrConflict, got %v", err)
		}
		list(t, st, u, a, b)
		got, err := st.PasskeyByID(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(b, got); d != "" {
			t.Fatalf("PasskeyByID (-want +got):\n%s", d)
		}
		if _, err := st.PasskeyByID(ctx, []byte("nope")); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("unknown ID: want ErrNotFound, got %v", err)
		}
		if err := st.RemovePasskey(ctx, other, a.ID); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("removing another user's credential: want ErrNotFound, got %v", err)
		}
		if err := st.RemovePasskey(ctx, u, a.ID); err != nil {
			t.Fatal(err)
		}
		if err := st.RemovePasskey(ctx, u, a.ID); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("second remove: want ErrNotFound, got %v", err)
		}
		list(t, st, u, b)
		list(t, st, other, o)
	})

	t.Run("UseAppliesTheCloneRule", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		u := uniq("u")
		c := newPasskey(u, "key", at)
		if err := st.AddPasskey(ctx, c); err != nil {
			t.Fatal(err)
		}
		used := c
		used.SignCount, used.BackupState, used.LastUsedAt = 9, true, at.Add(time.Hour)
		used.Name = "ignored" // only the counter, backup state and time change
		if err := st.UsePasskey(ctx, used); err != nil {
			t.Fatal(err)
		}
		want := c
		want.SignCount, want.BackupState, want.LastUsedAt = 9, true, at.Add(time.Hour)
		list(t, st, u, want)
		for _, n := range []uint32{9, 8, 0} {
			back := used
			back.SignCount, back.LastUsedAt = n, at.Add(2*time.Hour)
			if err := st.UsePasskey(ctx, back); !errors.Is(err, mfa.ErrClonedAuthenticator) {
				t.Fatalf("counter %d after 9: want ErrClonedAuthenticator, got %v", n, err)
			}
		}
		list(t, st, u, want) // a refused use changes nothing
		stranger := used
		stranger.UserID, stranger.SignCount = uniq("u"), 100
		if err := st.UsePasskey(ctx, stranger); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("use by another user: want ErrNotFound, got %v", err)
		}

		zero := newPasskey(u, "synced", at.Add(time.Second))
		zero.SignCount = 0
		if err := st.AddPasskey(ctx, zero); err != nil {
			t.Fatal(err)
		}
		zero.LastUsedAt = at.Add(time.Minute)
		for range 2 { // without a counter (0 and 0) every use passes
			if err := st.UsePasskey(ctx, zero); err != nil {
				t.Fatalf("counterless use: %v", err)
			}
		}
	})

	t.Run("SameCounterExactlyOneWinner", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		c := newPasskey(uniq("u"), "key", at)
		if err := st.AddPasskey(ctx, c); err != nil {
			t.Fatal(err)
		}
		c.SignCount, c.LastUsedAt = 6, at.Add(time.Minute)
		n := race(t, func() (bool, error) {
			err := st.UsePasskey(ctx, c)
			if errors.Is(err, mfa.ErrClonedAuthenticator) {
				return false, nil
			}
			return err == nil, err
		})
		if n != 1 {
			t.Fatalf("%d of %d concurrent uses of one counter value succeeded, want exactly 1", n, burst)
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := st.AddPasskey(cctx, newPasskey(uniq("u"), "k", at)); err == nil {
			t.Fatal("add with a canceled context: want an error")
		}
	})
}

// RunDeleteFactors checks FactorEraser against a full Store: every factor
// of the user goes, another user's stay.
func RunDeleteFactors(t *testing.T, newStore func(t *testing.T) mfa.Store) {
	t.Parallel()
	ctx := context.Background()
	st := newStore(t)
	u, other := uniq("u"), uniq("u")
	for _, user := range []string{u, other} {
		if err := st.PutTOTP(ctx, mfa.TOTPCredential{UserID: user, Sealed: sealed(), CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"a", "b"} {
			if err := st.AddPasskey(ctx, newPasskey(user, name, at)); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.ReplaceRecoveryCodes(ctx, user, hashes(10)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DeleteFactors(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteFactors(ctx, u); err != nil {
		t.Fatalf("deleting no factors: %v", err)
	}
	if _, err := st.GetTOTP(ctx, u); !errors.Is(err, mfa.ErrNotFound) {
		t.Fatalf("totp after delete: %v", err)
	}
	if keys, err := st.Passkeys(ctx, u); err != nil || len(keys) != 0 {
		t.Fatalf("passkeys after delete: %v, %v", keys, err)
	}
	if n, err := st.RecoveryCodesLeft(ctx, u); err != nil || n != 0 {
		t.Fatalf("recovery codes after delete: %d, %v", n, err)
	}
	if _, err := st.GetTOTP(ctx, other); err != nil {
		t.Fatalf("other user's totp: %v", err)
	}
	if keys, err := st.Passkeys(ctx, other); err != nil || len(keys) != 2 {
		t.Fatalf("other user's passkeys: %v, %v", keys, err)
	}
	if n, err := st.RecoveryCodesLeft(ctx, other); err != nil || n != 10 {
		t.Fatalf("other user's recovery codes: %d, %v", n, err)
	}
}
