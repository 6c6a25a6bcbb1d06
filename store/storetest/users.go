package storetest

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sessiond/sessiond/account"
)

func newUser(prefix string) *account.User {
	now := time.Now().UTC().Truncate(time.Millisecond)
	id := uniq(prefix)
	return &account.User{
		ID:           id,
		Email:        id + "@example.com",
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		Roles:        []string{"admin", "dev"},
		OrgID:        "org-1",
		// Both ways of EmailVerified are stored: UpdateFields flips it.
		EmailVerified:   true,
		EmailVerifiedAt: now.Add(-time.Minute),
		CreatedAt:       now,
		UpdatedAt:       now,
	}
}

// cheapHasher is an argon2id hasher at a cost fit only for tests.
func cheapHasher(t *testing.T) *account.Hasher {
	h, err := account.NewHasher(account.Params{Memory: 64, Time: 1, Threads: 1, InsecureLowCost: true})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// auditCounter is a slog.Handler counting audit events by name and reason.
type auditCounter struct {
	mu sync.Mutex
	n  map[[2]string]int
}

func (a *auditCounter) Enabled(context.Context, slog.Level) bool { return true }
func (a *auditCounter) WithAttrs([]slog.Attr) slog.Handler       { return a }
func (a *auditCounter) WithGroup(string) slog.Handler            { return a }
func (a *auditCounter) Handle(_ context.Context, r slog.Record) error {
	var k [2]string
	r.Attrs(func(at slog.Attr) bool {
		switch at.Key {
		case "event":
			k[0] = at.Value.String()
		case "reason":
			k[1] = at.Value.String()
		}
		return true
	})
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == nil {
		a.n = map[[2]string]int{}
	}
	a.n[k]++
	return nil
}

func (a *auditCounter) count(event, reason string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n[[2]string{event, reason}]
}

// RunUsers runs the user-store conformance suite.
func RunUsers(t *testing.T, newStore func(t *testing.T) account.Store) {
	ctx := context.Background()

	t.Run("CreateAndLookUp", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		u := newUser("u")
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatalf("create: %v", err)
		}
		byID, err := st.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(u, byID); d != "" {
			t.Fatalf("by id (-want +got):\n%s", d)
		}
		byEmail, err := st.UserByEmail(ctx, u.Email)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(u, byEmail); d != "" {
			t.Fatalf("by email (-want +got):\n%s", d)
		}
	})

	t.Run("Missing", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		if _, err := st.UserByID(ctx, "nobody"); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("by id: want ErrNotFound, got %v", err)
		}
		if _, err := st.UserByEmail(ctx, "nobody@example.com"); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("by email: want ErrNotFound, got %v", err)
		}
		if _, err := st.UpdateUser(ctx, "nobody", func(*account.User) error { return nil }); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("update: want ErrNotFound, got %v", err)
		}
	})

	t.Run("DuplicateEmailConflicts", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		u := newUser("u")
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		v := newUser("v")
		v.Email = u.Email
		if err := st.CreateUser(ctx, v); !errors.Is(err, account.ErrConflict) {
			t.Fatalf("want ErrConflict, got %v", err)
		}
	})

	t.Run("UpdateAbortsOnError", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		u := newUser("u")
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		_, err := st.UpdateUser(ctx, u.ID, func(u *account.User) error {
			u.Disabled = true
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("want fn's error, got %v", err)
		}
		got, _ := st.UserByID(ctx, u.ID)
		if got.Disabled {
			t.Fatal("update written although fn failed")
		}
	})

	t.Run("UpdateFields", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		u := newUser("u")
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		lock := time.Now().UTC().Add(time.Hour).Truncate(time.Millisecond)
		got, err := st.UpdateUser(ctx, u.ID, func(x *account.User) error {
			x.Disabled = true
			x.Roles = []string{"viewer"}
			x.TokenVersion = 7
			x.FailedLogins = 3
			x.LockedUntil = lock
			x.PasswordHash = "new"
			x.EmailVerified, x.EmailVerifiedAt = false, time.Time{}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		again, _ := st.UserByID(ctx, u.ID)
		if d := cmp.Diff(got, again); d != "" {
			t.Fatalf("update result differs from stored (-ret +stored):\n%s", d)
		}
		want := *u
		want.Disabled, want.Roles, want.TokenVersion, want.FailedLogins, want.LockedUntil, want.PasswordHash =
			true, []string{"viewer"}, 7, 3, lock, "new"
		want.EmailVerified, want.EmailVerifiedAt = false, time.Time{}
		if d := cmp.Diff(&want, again, cmpopts.IgnoreFields(account.User{}, "UpdatedAt")); d != "" {
			t.Fatalf("update not stored (-want +got):\n%s", d)
		}
	})

	t.Run("ConcurrentUpdatesAllApply", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		u := newUser("u")
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		const n = 20
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := st.UpdateUser(ctx, u.ID, func(x *account.User) error {
					x.TokenVersion++
					return nil
				}); err != nil {
					t.Errorf("update: %v", err)
				}
			}()
		}
		wg.Wait()
		got, _ := st.UserByID(ctx, u.ID)
		if got.TokenVersion != n {
			t.Fatalf("lost updates: version %d, want %d", got.TokenVersion, n)
		}
	})

	// Issue 13: the lockout decision is taken in one UpdateUser before the
	// password is checked, so that of a parallel burst at most
	// LockoutAfter − FailedLogins attempts are evaluated, whatever the store.
	t.Run("ParallelLoginsTakeAtMostTheRemainingLockoutSlots", func(t *testing.T) {
		t.Parallel()
		var events auditCounter
		svc := &account.Service{Store: newStore(t), Hasher: cheapHasher(t), LockoutAfter: 3,
			Audit: slog.New(&events)}
		email := uniq("lock") + "@example.com"
		if _, err := svc.Register(ctx, email, "correct horse battery", nil, ""); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := svc.Authenticate(ctx, email, "wrong password!", "192.0.2.1"); !errors.Is(err, account.ErrInvalidCredentials) {
				t.Fatalf("wrong password: %v", err)
			}
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				<-start
				if _, err := svc.Authenticate(ctx, email, "wrong password!", "192.0.2.1"); !errors.Is(err, account.ErrInvalidCredentials) {
					t.Errorf("wrong password in the burst: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if got := events.count("login.failure", "wrong_password"); got != 3 {
			t.Fatalf("lockout after 3 with 2 failures: %d wrong passwords evaluated in all, want 3 (2 + 1 of the burst)", got)
		}
		if got := events.count("login.failure", "locked"); got != 19 {
			t.Fatalf("%d of the burst refused as locked, want 19", got)
		}
		if got := events.count("login.lockout", ""); got != 1 {
			t.Fatalf("%d lockout events, want 1", got)
		}
		if _, err := svc.Authenticate(ctx, email, "correct horse battery", "192.0.2.1"); !errors.Is(err, account.ErrInvalidCredentials) {
			t.Fatalf("right password after the burst: %v, want the account locked", err)
		}
	})

	t.Run("ContextCanceled", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := st.UserByID(cctx, "x"); !errors.Is(err, context.Canceled) {
			t.Fatalf("want context.Canceled, got %v", err)
		}
		if err := st.CreateUser(cctx, newUser("c")); !errors.Is(err, context.Canceled) {
			t.Fatalf("create: want context.Canceled, got %v", err)
		}
	})
}
