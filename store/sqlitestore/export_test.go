package sqlitestore

import (
	"context"
	"time"
)

// OpenUnwatched opens a store whose change watcher does not run: the test
// drives it with PollChanges.
func OpenUnwatched(ctx context.Context, path string, opt Options) (*Store, error) {
	opt.noWatch = true
	return Open(ctx, path, opt)
}

// PollChanges runs one check of the change watcher at now.
func (s *Store) PollChanges(now time.Time) bool { return s.poll(now) }

// VersionReads is how many times the watcher asked PRAGMA data_version.
func (s *Store) VersionReads() int64 { return s.watch.reads.Load() }

// CheckpointTruncate checkpoints the WAL and truncates it, so the next
// commit restarts it.
func (s *Store) CheckpointTruncate(ctx context.Context) error {
	_, err := s.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

var (
	NextPoll = nextPoll
	WatchWAL = watchWAL
)
