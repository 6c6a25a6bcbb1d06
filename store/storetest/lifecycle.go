package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/account"
)

// LifecycleStore is what the account lifecycle (account.Service's
// verification, recovery and email-change methods) needs from a backend.
type LifecycleStore interface {
	account.Store
	account.TokenStore
}

const lifecyclePassword = "correct horse battery"

// RunLifecycle runs the account lifecycle flows (issue 16) through
// account.Service on the backend newStore returns: single-use links under a
// parallel burst, expired, stale and wrong-purpose links refused, no
// enumeration in StartRecovery. newStore may return a shared database.
func RunLifecycle(t *testing.T, newStore func(t *testing.T) LifecycleStore) {
	ctx := context.Background()

	svc := func(t *testing.T) *account.Service {
		st := newStore(t)
		return &account.Service{Store: st, Tokens: st, Hasher: cheapHasher(t)}
	}
	register := func(t *testing.T, s *account.Service) *account.User {
		t.Helper()
		u, err := s.Register(ctx, uniq("life")+"@example.com", lifecyclePassword, nil, "")
		if err != nil {
			t.Fatalf("register: %v", err)
		}
		if !u.EmailVerified || u.EmailVerifiedAt.IsZero() {
			t.Fatal("a user an administrator registers starts unverified")
		}
		return u
	}
	recovery := func(t *testing.T, s *account.Service, email string) *account.Grant {
		t.Helper()
		g, err := s.StartRecovery(ctx, email)
		if err != nil || g == nil || g.Token == "" {
			t.Fatalf("start recovery: %+v, %v", g, err)
		}
		return g
	}
	signIn := func(t *testing.T, s *account.Service, email, pw string) error {
		t.Helper()
		_, err := s.Authenticate(ctx, email, pw, "192.0.2.1")
		return err
	}

	t.Run("RecoveryParallelBurstOneWinner", func(t *testing.T) {
		t.Parallel()
		s := svc(t)
		u := register(t, s)
		g := recovery(t, s, u.Email)
		const n = 12
		var (
			mu     sync.Mutex
			winner []string
			wg     sync.WaitGroup
			start  = make(chan struct{})
		)
		for i := range n {
			wg.Go(func() {
				<-start
				pw := fmt.Sprintf("new password number %d", i)
				got, err := s.CompleteRecovery(ctx, g.Token, pw)
				switch {
				case err == nil:
					if got.ID != u.ID {
						t.Errorf("recovered user %s, want %s", got.ID, u.ID)
					}
					mu.Lock()
					winner = append(winner, pw)
					mu.Unlock()
				case !errors.Is(err, account.ErrInvalidToken):
					t.Errorf("complete recovery: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(winner) != 1 {
			t.Fatalf("%d recoveries succeeded with one link, want 1", len(winner))
		}
		after, err := s.Store.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if after.TokenVersion != u.TokenVersion+1 {
			t.Fatalf("token version %d, want %d: every access token must end", after.TokenVersion, u.TokenVersion+1)
		}
		if err := signIn(t, s, u.Email, winner[0]); err != nil {
			t.Fatalf("sign in with the new password: %v", err)
		}
		if err := signIn(t, s, u.Email, lifecyclePassword); !errors.Is(err, account.ErrInvalidCredentials) {
			t.Fatalf("sign in with the old password: %v, want ErrInvalidCredentials", err)
		}
		if _, err := s.CompleteRecovery(ctx, g.Token, "yet another password"); !errors.Is(err, account.ErrInvalidToken) {
			t.Fatalf("used link: %v, want ErrInvalidToken", err)
		}
	})

	t.Run("RecoveryLinkFromBeforePasswordChangeRefused", func(t *testing.T) {
		t.Parallel()
		s := svc(t)
		u := register(t, s)
		g := recovery(t, s, u.Email)
		if _, err := s.ChangePassword(ctx, u.ID, lifecyclePassword, "changed in between"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CompleteRecovery(ctx, g.Token, "attacker's choice!"); !errors.Is(err, account.ErrInvalidToken) {
			t.Fatalf("stale link: %v, want ErrInvalidToken", err)
		}
		if err := signIn(t, s, u.Email, "changed in between"); err != nil {
			t.Fatalf("the changed password no longer works: %v", err)
		}
	})

	t.Run("RecoveryExpiredLinkRefused", func(t *testing.T) {
		t.Parallel()
		s := svc(t)
		u := register(t, s)
		// Issued by a clock 16 minutes behind the store's: 15 minutes of
		// validity are over by the store's clock.
		s.Now = func() time.Time { return time.Now().Add(-16 * time.Minute) }
		g := recovery(t, s, u.Email)
		if _, err := s.CompleteRecovery(ctx, g.Token, "a new password!"); !errors.Is(err, account.ErrInvalidToken) {
			t.Fatalf("expired link: %v, want ErrInvalidToken", err)
		}
	})

	t.Run("RecoveryWeakPasswordKeepsLink", func(t *testing.T) {
		t.Parallel()
		s := svc(t)
		u := register(t, s)
		g := recovery(t, s, u.Email)
		if _, err := s.CompleteRecovery(ctx, g.Token, "short"); !errors.Is(err, account.ErrWeakPassword) {
			t.Fatalf("weak password: %v, want ErrWeakPassword", err)
		}
		if _, err := s.CompleteRecovery(ctx, g.Token, "a strong new password"); err != nil {
			t.Fatalf("the link after a refused weak password: %v", err)
		}
	})

	t.Run("RecoveryNoEnumeration", func(t *testing.T) {
		t.Parallel()
		s := svc(t)
		disabled := register(t, s)
		yes := true
		if _, err := s.Update(ctx, disabled.ID, &yes, nil); err != nil {
			t.Fatal(err)
		}
		for _, email := range []string{uniq("nobody") + "@example.com", "not an address", disabled.Email} {
			if g, err := s.StartRecovery(ctx, email); g != nil || err != nil {
				t.Fatalf("start recovery for %q: %+v, %v; want nil, nil like any unknown address", email, g, err)
			}
		}
	})

	t.Run("MalformedAndWrongPurposeLinksRefused", func(t *testing.T) {
		t.Parallel()
		s := svc(t)
		u := register(t, s)
		g := recovery(t, s, u.Email)
		for _, tok := range []string{"", "x", g.Token + "A", g.Token[:len(g.Token)-1]} {
			if _, err := s.CompleteRecovery(ctx, tok, "a strong new password"); !errors.Is(err, account.ErrInvalidToken) {
				t.Fatalf("recovery with %q: %v, want ErrInvalidToken", tok, err)
			}
		}
		if _, err := s.CompleteVerification(ctx, g.Token); !errors.Is(err, account.ErrInvalidToken) {
			t.Fatalf("recovery link used to verify: %v, want ErrInvalidToken", err)
		}
		if _, _, err := s.CompleteEmailChange(ctx, g.Token); !errors.Is(err, account.ErrInvalidToken) {
			t.Fatalf("recovery link used to change email: %v, want ErrInvalidToken", err)
		}
		if _, err := s.CompleteRecovery(ctx, g.Token, "a strong new password"); err != nil {
			t.Fatalf("the link for its own purpose after misuse: %v", err)
		}
	})

	t.Run("SignUpThenVerify", func(t *testing.T) {
		t.Parallel()
		s := svc(t)
		u, err := s.SignUp(ctx, uniq("Sign")+"@Example.com", lifecyclePassword)
		if err != nil {
			t.Fatal(err)
		}
		if u.EmailVerified {
			t.Fatal("a signed-up user starts verified")
		}
		g, err := s.StartVerification(ctx, u.ID)
		if err != nil || g == nil || g.Email != u.Email {
			t.Fatalf("start verification: %+v, %v", g, err)
		}
		got, err := s.CompleteVerification(ctx, g.Token)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := s.Store.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.EmailVerified || !stored.EmailVerified || stored.EmailVerifiedAt.IsZero() {
			t.Fatalf("after verification: returned %v, stored %v at %v", got.EmailVerified, stored.EmailVerified, stored.EmailVerifiedAt)
		}
		if _, err := s.CompleteVerification(ctx, g.Token); !errors.Is(err, account.ErrInvalidToken) {
			t.Fatalf("used verification link: %v, want ErrInvalidToken", err)
		}
		if g, err := s.StartVerification(ctx, u.ID); g != nil || err != nil {
			t.Fatalf("start verification when verified: %+v, %v; want nothing to send", g, err)
		}
	})

	t.Run("VerificationLinkForAnOldAddressRefused", func(t *testing.T) {
		t.Parallel()
		s := svc(t)
		u, err := s.SignUp(ctx, uniq("old")+"@example.com", lifecyclePassword)
		if err != nil {
			t.Fatal(err)
		}
		g, err := s.StartVerification(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Store.UpdateUser(ctx, u.ID, func(x *account.User) error {
			x.Email = uniq("moved") + "@example.com"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CompleteVerification(ctx, g.Token); !errors.Is(err, account.ErrInvalidToken) {
			t.Fatalf("link for the old address: %v, want ErrInvalidToken", err)
		}
		if got, _ := s.Store.UserByID(ctx, u.ID); got.EmailVerified {
			t.Fatal("the new address became verified through the old address's link")
		}
	})

	t.Run("EmailChange", func(t *testing.T) {
		t.Parallel()
		s := svc(t)
		u := register(t, s)
		next := uniq("next") + "@example.com"
		if _, err := s.StartEmailChange(ctx, u.ID, next, "wrong password"); !errors.Is(err, account.ErrInvalidCredentials) {
			t.Fatalf("wrong current password: %v, want ErrInvalidCredentials", err)
		}
		if _, err := s.StartEmailChange(ctx, u.ID, u.Email, lifecyclePassword); !errors.Is(err, account.ErrInvalidEmail) {
			t.Fatalf("same address: %v, want ErrInvalidEmail", err)
		}
		g, err := s.StartEmailChange(ctx, u.ID, next, lifecyclePassword)
		if err != nil {
			t.Fatal(err)
		}
		if g.Email != next || g.OldEmail != u.Email {
			t.Fatalf("grant mails %q (notice to %q), want %q (notice to %q)", g.Email, g.OldEmail, next, u.Email)
		}
		if got, _ := s.Store.UserByID(ctx, u.ID); got.Email != u.Email {
			t.Fatal("the email changed before the new address was verified")
		}
		got, old, err := s.CompleteEmailChange(ctx, g.Token)
		if err != nil {
			t.Fatal(err)
		}
		if old != u.Email || got.Email != next || !got.EmailVerified || got.TokenVersion != u.TokenVersion+1 {
			t.Fatalf("after change: old %q email %q verified %v version %d", old, got.Email, got.EmailVerified, got.TokenVersion)
		}
		if _, err := s.Store.UserByEmail(ctx, u.Email); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("old address still finds the user: %v", err)
		}
		if err := signIn(t, s, next, lifecyclePassword); err != nil {
			t.Fatalf("sign in with the new address: %v", err)
		}
		if _, _, err := s.CompleteEmailChange(ctx, g.Token); !errors.Is(err, account.ErrInvalidToken) {
			t.Fatalf("used link: %v, want ErrInvalidToken", err)
		}
	})

	t.Run("EmailChangeStaleAndTaken", func(t *testing.T) {
		t.Parallel()
		s := svc(t)
		u, other := register(t, s), register(t, s)
		first, err := s.StartEmailChange(ctx, u.ID, uniq("a")+"@example.com", lifecyclePassword)
		if err != nil {
			t.Fatal(err)
		}
		second, err := s.StartEmailChange(ctx, u.ID, uniq("b")+"@example.com", lifecyclePassword)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.CompleteEmailChange(ctx, second.Token); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.CompleteEmailChange(ctx, first.Token); !errors.Is(err, account.ErrInvalidToken) {
			t.Fatalf("link from before another email change: %v, want ErrInvalidToken", err)
		}
		taken, err := s.StartEmailChange(ctx, other.ID, second.Email, lifecyclePassword)
		if err != nil {
			t.Fatalf("start to a taken address must not tell: %v", err)
		}
		if _, _, err := s.CompleteEmailChange(ctx, taken.Token); !errors.Is(err, account.ErrConflict) {
			t.Fatalf("complete to a taken address: %v, want ErrConflict", err)
		}
	})
}
