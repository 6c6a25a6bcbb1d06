package sqlitestore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/sqlitestore"
)

func openAt(t *testing.T, path string, opt sqlitestore.Options) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(context.Background(), path, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newSession(t *testing.T, i int) *session.Session {
	t.Helper()
	tok, err := session.NewToken(nil)
	if err != nil {
		t.Fatal(err)
	}
	hash := session.HashToken(tok)
	now := time.Now().UTC().Truncate(time.Millisecond)
	return &session.Session{ID: session.IDFromHash(hash), Hash: hash, UserID: fmt.Sprintf("u%d", i),
		CreatedAt: now, LastSeenAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(24 * time.Hour),
		IP: "203.0.113.7", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		Method: "password"}
}

// eventually polls cond until it holds or 5 s pass (the documented bound is
// ChangePoll, 5 ms: this is a liveness check, not a timing).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not seen within 5s", what)
}

// Another process (the CLI) writing the same file must reach this process's
// near cache: revocation, a disabled user and a denied token are never
// served from it for longer than the change poll.
func TestNearCache_SeesWritesOfAnotherProcess(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	server := openAt(t, path, sqlitestore.Options{})
	cli := openAt(t, path, sqlitestore.Options{CacheEntries: -1})

	ss := newSession(t, 1)
	if err := server.Create(ctx, ss); err != nil {
		t.Fatal(err)
	}
	u := &account.User{ID: "u1", Email: "a@example.com", PasswordHash: "x", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := server.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	for range 3 { // warm the caches
		if _, err := server.Get(ctx, ss.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := server.UserByID(ctx, "u1"); err != nil {
			t.Fatal(err)
		}
		if d, err := server.Denied(ctx, "jti:x", "sid:"+ss.ID); err != nil || d {
			t.Fatalf("Denied = %v, %v", d, err)
		}
	}
	if st := server.CacheStats()["sessions"]; st.Hits == 0 {
		t.Fatalf("session cache never hit: %+v", st)
	}

	if err := cli.Delete(ctx, ss.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "session deleted by another process", func() bool {
		_, err := server.Get(ctx, ss.ID)
		return errors.Is(err, session.ErrNotFound)
	})
	if _, err := cli.UpdateUser(ctx, "u1", func(u *account.User) error { u.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	eventually(t, "user disabled by another process", func() bool {
		u, err := server.UserByID(ctx, "u1")
		return err == nil && u.Disabled
	})
	if err := cli.Deny(ctx, "sid:"+ss.ID, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "sid denied by another process", func() bool {
		d, err := server.Denied(ctx, "jti:x", "sid:"+ss.ID)
		return err == nil && d
	})
}

// The process that writes reads its own writes at once, with no poll in
// between: the change poll is set to an hour so only invalidation can help.
func TestNearCache_ReadsOwnWritesAtOnce(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "s.db"), sqlitestore.Options{ChangePoll: time.Hour})
	ss := newSession(t, 1)
	if err := s.Create(ctx, ss); err != nil {
		t.Fatal(err)
	}
	u := &account.User{ID: "u1", Email: "a@example.com", PasswordHash: "x", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	_, _ = s.Get(ctx, ss.ID)
	_, _ = s.UserByID(ctx, "u1")
	_, _ = s.Denied(ctx, "sid:"+ss.ID)

	if _, err := s.SetData(ctx, ss.ID, []byte(`{"a":1}`), 0); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, ss.ID); err != nil || got.DataVersion != 1 {
		t.Fatalf("after SetData: %+v, %v", got, err)
	}
	if _, err := s.UpdateUser(ctx, "u1", func(u *account.User) error { u.TokenVersion = 7; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.UserByID(ctx, "u1"); got.TokenVersion != 7 {
		t.Fatalf("token version after update = %d, want 7", got.TokenVersion)
	}
	if err := s.Deny(ctx, "sid:"+ss.ID, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Denied(ctx, "sid:"+ss.ID); !d {
		t.Fatal("own deny not seen")
	}
	if _, err := s.DeleteByUser(ctx, "u1", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, ss.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("after DeleteByUser: %v", err)
	}
	// Callers may change what they get; the cache must not see it.
	ss2 := newSession(t, 2)
	_ = s.Create(ctx, ss2)
	a, _ := s.Get(ctx, ss2.ID)
	a.UserID, a.LastSeenAt = "someone else", time.Time{}
	if b, _ := s.Get(ctx, ss2.ID); b.UserID != "u2" {
		t.Fatalf("a caller's change reached the cache: %q", b.UserID)
	}
}

// Issue 7's memory target: under 1 KiB of heap per cached session (a
// session with a typical user agent, as the cache keeps it).
func TestNearCache_HeapPerCachedSession(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 3,000 sessions")
	}
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "s.db"), sqlitestore.Options{})
	const n = 3_000
	ids := make([]string, n)
	for i := range n {
		ss := newSession(t, i)
		ids[i] = ss.ID
		if err := s.Create(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	before := heap()
	for _, id := range ids {
		if _, err := s.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	after := heap()
	if got := s.CacheStats()["sessions"].Entries; got < n*9/10 {
		t.Fatalf("only %d of %d sessions cached", got, n)
	}
	per := float64(after-before) / n
	t.Logf("heap per cached session: %.0f bytes", per)
	if per > 1024 {
		t.Fatalf("heap per cached session %.0f bytes, budget 1024", per)
	}
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestNearCache_AllocBudget: a cache hit allocates one copy of the session
// and nothing else (BenchmarkGet's budget).
func TestNearCache_AllocBudget(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "s.db"), sqlitestore.Options{})
	ss := newSession(t, 1)
	if err := s.Create(ctx, ss); err != nil {
		t.Fatal(err)
	}
	_, _ = s.Get(ctx, ss.ID)
	if got := testing.AllocsPerRun(200, func() { _, _ = s.Get(ctx, ss.ID) }); got > 1 {
		t.Fatalf("cached Get: %.0f allocs/op, budget 1", got)
	}
}
