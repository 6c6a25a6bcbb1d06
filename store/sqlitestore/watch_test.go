package sqlitestore_test

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/sqlitestore"
)

// An idle server asks SQLite nothing: while no process commits, polls read
// only the WAL-index header, and data_version is asked once per second of
// the store's clock at most. Yet every commit by another process — across
// WAL checkpoints and restarts — is seen by the next poll.
func TestChangeWatch_IdleIsCheapAndMissesNoCommit(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	server, err := sqlitestore.OpenUnwatched(ctx, path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	cli := openAt(t, path, sqlitestore.Options{CacheEntries: -1})

	now := time.Now()
	server.PollChanges(now) // first reading of the header
	before := server.VersionReads()
	for range 1000 {
		if server.PollChanges(now) {
			t.Fatal("idle poll reported activity")
		}
	}
	if got := server.VersionReads() - before; got != 0 {
		t.Fatalf("1000 idle polls asked data_version %d times, want 0", got)
	}
	server.PollChanges(now.Add(2 * time.Second))
	if got := server.VersionReads() - before; got != 1 {
		t.Fatalf("after a quiet second data_version asked %d times, want 1 (the authority is still asked)", got)
	}

	for i := range 60 {
		ss := newSession(t, i)
		if err := server.Create(ctx, ss); err != nil {
			t.Fatal(err)
		}
		if _, err := server.Get(ctx, ss.ID); err != nil { // cached
			t.Fatal(err)
		}
		if i%7 == 0 {
			if err := cli.CheckpointTruncate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := cli.Delete(ctx, ss.ID); err != nil {
			t.Fatal(err)
		}
		server.PollChanges(now)
		if _, err := server.Get(ctx, ss.ID); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("write %d by another process not seen after one poll: %v", i, err)
		}
	}
}

// The watcher's interval: fast while hot, idle otherwise.
func TestNextPoll(t *testing.T) {
	now := time.Now()
	for _, c := range []struct {
		name     string
		hotUntil time.Time
		want     time.Duration
	}{
		{"hot", now.Add(time.Millisecond), 5 * time.Millisecond},
		{"cooled", now, time.Second},
		{"long idle", now.Add(-time.Hour), time.Second},
	} {
		if got := sqlitestore.NextPoll(now, c.hotUntil, 5*time.Millisecond, time.Second); got != c.want {
			t.Errorf("%s: nextPoll = %v, want %v", c.name, got, c.want)
		}
	}
}

// On Linux a write by another process to the WAL wakes the watcher, which
// then polls at once and fast: that is what keeps the CLI's revocations
// quick while the idle poll is slow.
func TestWatchWAL_WakesOnWriteByAnotherProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the WAL watch is Linux-only; elsewhere the idle poll bounds it")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	cli := openAt(t, path, sqlitestore.Options{CacheEntries: -1})
	ss := newSession(t, 1)
	if err := cli.Create(ctx, ss); err != nil {
		t.Fatal(err)
	}
	wake, stop, err := sqlitestore.WatchWAL(path)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := cli.Delete(ctx, ss.ID); err != nil {
		t.Fatal(err)
	}
	select { // liveness, not a timing
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatal("a commit by another process did not wake the watcher")
	}
}
