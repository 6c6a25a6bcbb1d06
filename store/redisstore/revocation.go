package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/sessiond/sessiond/session"
)

// Revocations that survive a failover. Redis replicates asynchronously: a
// master that acknowledged the deletion of a session and died before its
// replica received it hands the session back when the replica is promoted.
// So every write whose loss would let someone in (Delete, DeleteByUser,
// RevokeFamily, RevokeFamilies, RevokeFamiliesByClient, Deny) is followed
// by WAIT: the store writes a small marker key on the revoked key's slot
// (replication is one ordered stream per master, so once a replica has the
// marker it has the revocation too) and, on the same connection, WAIT
// RevocationReplicas RevocationTimeout. A revocation that the replicas do
// not confirm in time is reported to Options.Unreplicated, or returned as
// an *UnreplicatedError.

// RevocationKind says what a Revocation ended.
type RevocationKind string

// The kinds of Revocation.
const (
	// RevokedSessions: session IDs deleted (Delete, DeleteByUser).
	RevokedSessions RevocationKind = "sessions"
	// RevokedFamilies: refresh-token family IDs deleted (RevokeFamily,
	// RevokeFamilies, RevokeFamiliesByClient).
	RevokedFamilies RevocationKind = "families"
	// DeniedKeys: denylist keys added (Deny), each until Until.
	DeniedKeys RevocationKind = "denylist"
)

// Revocation is a revocation that Redis applied on the master but that
// fewer replicas than wanted confirmed in time: until they have it, a
// failover could undo it.
type Revocation struct {
	// Kind says what IDs are.
	Kind RevocationKind
	// IDs are the session IDs, family IDs or denylist keys revoked.
	IDs []string
	// Until is when a denylist entry may be forgotten; zero for the other
	// kinds (a session or family stays revoked for good).
	Until time.Time
	// Wanted is the number of replicas asked for, Confirmed the smallest
	// number that confirmed (over the nodes the IDs live on).
	Wanted, Confirmed int
}

// UnreplicatedError is returned by a revoking method when its revocation
// was applied on the master but not confirmed by enough replicas, and no
// Options.Unreplicated hook took it over. It wraps session.ErrUnavailable:
// the revocation is not yet safe from a failover, so callers that fail
// closed (503, retry) stay correct.
type UnreplicatedError struct {
	Op         string
	Revocation Revocation
	// Err is the hook's error, if a hook was set and failed.
	Err error
}

// Error names the operation and the counts, never the IDs.
func (e *UnreplicatedError) Error() string {
	msg := fmt.Sprintf("redisstore: %s: %v: %d of %d replicas confirmed %d %s", e.Op, session.ErrUnavailable,
		e.Revocation.Confirmed, e.Revocation.Wanted, len(e.Revocation.IDs), e.Revocation.Kind)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns session.ErrUnavailable and the hook's error, if any.
func (e *UnreplicatedError) Unwrap() []error {
	if e.Err != nil {
		return []error{session.ErrUnavailable, e.Err}
	}
	return []error{session.ErrUnavailable}
}

// revocationWait is the store's WAIT policy.
type revocationWait struct {
	replicas int // 0: no wait
	timeout  time.Duration
	hook     func(context.Context, Revocation) error
}

// setRevocation fills s.revoke from opt for a client in mode.
func (s *Store) setRevocation(mode rueidis.ClientMode, opt Options) error {
	n := opt.RevocationReplicas
	if n == 0 && (mode == rueidis.ClientModeCluster || mode == rueidis.ClientModeSentinel) {
		n = 1
	}
	if opt.RevocationTimeout < 0 {
		return errors.New("negative RevocationTimeout")
	}
	s.revoke = revocationWait{
		replicas: max(n, 0),
		timeout:  orDefault(opt.RevocationTimeout, DefaultRevocationTimeout),
		hook:     opt.Unreplicated,
	}
	return nil
}

// ackMarkerTTL is how long a marker key lives: only as long as a WAIT.
const ackMarkerTTL = 10 * time.Second

// confirm waits until s.revoke.replicas replicas hold the revocation r of
// keys (already applied on the master, by a reply this process received),
// with one marker write and WAIT per hash slot. It returns nil when they
// do, or when the hook took the revocation over; otherwise an
// *UnreplicatedError for op.
func (s *Store) confirm(ctx context.Context, op string, r Revocation, keys ...string) error {
	if s.revoke.replicas == 0 || len(keys) == 0 {
		return nil
	}
	r.Wanted, r.Confirmed = s.revoke.replicas, s.revoke.replicas
	if !s.cluster {
		keys = keys[:1] // one master: one WAIT covers every key
	}
	seen := make(map[uint16]bool)
	for _, k := range keys {
		mark := s.c.B().Set().Key(s.prefix + "ack:{" + hashTag(k) + "}").Value("1").
			Px(ackMarkerTTL).Build()
		if seen[mark.Slot()] {
			continue
		}
		seen[mark.Slot()] = true
		// WAIT is a blocking command, so rueidis sends the pair on one
		// dedicated connection: WAIT then counts the marker, written after
		// the revocation was acknowledged.
		// (A Completed command is recycled once sent: build one per call.)
		wait := s.c.B().Wait().Numreplicas(int64(s.revoke.replicas)).Timeout(s.revoke.timeout.Milliseconds()).Build()
		res := s.c.DoMulti(ctx, mark, wait)
		n, err := res[1].AsInt64()
		if res[0].Error() != nil || err != nil {
			n = 0
		}
		r.Confirmed = min(r.Confirmed, int(n))
	}
	if r.Confirmed >= r.Wanted {
		return nil
	}
	var herr error
	if s.revoke.hook != nil {
		if herr = s.revoke.hook(ctx, r); herr == nil {
			return nil
		}
	}
	return &UnreplicatedError{Op: op, Revocation: r, Err: herr}
}

// hashTag returns the cluster hash tag of key (between its first '{' and
// the next '}'), or key itself when it has none.
func hashTag(key string) string {
	_, rest, ok := strings.Cut(key, "{")
	if !ok {
		return key
	}
	tag, _, ok := strings.Cut(rest, "}")
	if !ok || tag == "" {
		return key
	}
	return tag
}
