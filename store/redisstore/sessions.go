package redisstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/sessiond/sessiond/session"
)

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func notFound(op string) error { return fmt.Errorf("redisstore: %s: %w", op, session.ErrNotFound) }

// deadlineMS is the session's deadline in Unix ms, at least 1 (Redis refuses
// an expiry time of 0; 1 is as good as "already expired").
func deadlineMS(s *session.Session) int64 { return max(ms(s.Deadline()), 1) }

// Create implements session.Store, in one round trip without scripts: it
// adds the session to its user's index (ZADD GT, and extends the index's
// expiry to the session's absolute expiry) and stores the record with SET NX,
// expiring at the session's deadline. Only when both succeed does Create
// return nil: a session whose index entry failed is never handed out (its
// token is never returned) and simply expires. A live session with the same
// ID is session.ErrConflict. Strings longer than 65535 bytes are refused.
func (s *Store) Create(ctx context.Context, ss *session.Session) error {
	const op = "create session"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	rec, err := encodeRecord(ss)
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	defer s.ownWrite(s.sessionKey(ss.ID))()
	dl := deadlineMS(ss)
	set := s.c.B().Set().Key(s.sessionKey(ss.ID)).Value(rueidis.BinaryString(rec)).Nx().PxatMillisecondsTimestamp(dl).Build()
	if dl <= ms(s.now()) {
		// Dead on arrival: nothing to index (and an expiry in the past
		// would delete the index). SET with a past PXAT stores nothing but
		// still tells a live duplicate apart.
		err := s.c.Do(ctx, set).Error()
		if rueidis.IsRedisNil(err) {
			return fmt.Errorf("redisstore: %s: %w", op, session.ErrConflict)
		}
		if err != nil {
			return s.wrap(ctx, op, err)
		}
		return nil
	}
	idx := s.indexKey(ss.UserID)
	exp := max(ms(ss.ExpiresAt), dl)
	res := s.c.DoMulti(ctx,
		s.c.B().Zadd().Key(idx).Gt().ScoreMember().ScoreMember(float64(dl), ss.ID).Build(),
		s.c.B().Pexpireat().Key(idx).MillisecondsTimestamp(exp).Nx().Build(), // a new index
		s.c.B().Pexpireat().Key(idx).MillisecondsTimestamp(exp).Gt().Build(), // a longer-lived session
		set,
	)
	added, err := res[0].AsInt64()
	if err != nil {
		return s.wrap(ctx, op, err)
	}
	for _, r := range res[1:3] {
		if err := r.Error(); err != nil {
			return s.wrap(ctx, op, err)
		}
	}
	err = res[3].Error()
	if rueidis.IsRedisNil(err) {
		if added == 1 {
			// The live session with this ID is another user's: take back
			// the index entry just added (best effort; a leftover entry
			// is ignored by readers and removed once its score passes).
			_ = s.c.Do(ctx, s.c.B().Zrem().Key(idx).Member(ss.ID).Build()).Error()
		}
		return fmt.Errorf("redisstore: %s: %w", op, session.ErrConflict)
	}
	if err != nil {
		return s.wrap(ctx, op, err)
	}
	return nil
}

// Get implements session.Store: one GET through the near cache (a cached
// answer until Redis invalidates the key). A session past its deadline by
// the store's clock is session.ErrNotFound even if Redis has not expired it
// yet.
func (s *Store) Get(ctx context.Context, id string) (*session.Session, error) {
	const op = "get session"
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	v, err := s.cachedGet(ctx, s.sessionKey(id)).ToString()
	if rueidis.IsRedisNil(err) {
		return nil, notFound(op)
	}
	if err != nil {
		return nil, s.wrap(ctx, op, err)
	}
	ss, err := decodeRecord(id, v)
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if !ss.Valid(s.now()) {
		return nil, notFound(op)
	}
	return ss, nil
}

// Touch implements session.Store. It rewrites the record and its expiry in
// one script, then raises the session's score in the user's index.
func (s *Store) Touch(ctx context.Context, id string, lastSeen, idleExpires time.Time) error {
	const op = "touch session"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	defer s.ownWrite(s.sessionKey(id))()
	arr, err := touchScript.exec(ctx, s.c, s.sessionKey(id),
		packInt64(ms(lastSeen), ms(idleExpires)), itoa(ms(idleExpires)), itoa(ms(s.now()))).ToArray()
	if rueidis.IsRedisNil(err) {
		return notFound(op)
	}
	if err != nil {
		return s.wrap(ctx, op, err)
	}
	if len(arr) != 2 {
		return fmt.Errorf("redisstore: %s: unexpected reply of %d elements", op, len(arr))
	}
	user, err := arr[0].ToString()
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	dl, err := arr[1].AsInt64()
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	// If this fails the score lags the deadline; readers repair it (see
	// ListByUser), and the index itself lives until the absolute expiry.
	err = s.c.Do(ctx, s.c.B().Zadd().Key(s.indexKey(user)).Xx().Gt().ScoreMember().ScoreMember(float64(dl), id).Build()).Error()
	if err != nil {
		return s.wrap(ctx, op, err)
	}
	return nil
}

// Delete implements session.Store: GETDEL of the record, then its index
// entry (the record names the user).
func (s *Store) Delete(ctx context.Context, id string) error {
	const op = "delete session"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	defer s.ownWrite(s.sessionKey(id))()
	v, err := s.c.Do(ctx, s.c.B().Getdel().Key(s.sessionKey(id)).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return notFound(op)
	}
	if err != nil {
		return s.wrap(ctx, op, err)
	}
	ss, err := decodeRecord(id, v)
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if err := s.c.Do(ctx, s.c.B().Zrem().Key(s.indexKey(ss.UserID)).Member(id).Build()).Error(); err != nil {
		return s.wrap(ctx, op, err)
	}
	if !ss.Valid(s.now()) {
		return notFound(op)
	}
	return s.confirm(ctx, op, Revocation{Kind: RevokedSessions, IDs: []string{id}}, s.sessionKey(id))
}

// zscores returns the members of the sorted set idx with their scores.
func (s *Store) zscores(ctx context.Context, idx string) ([]rueidis.ZScore, error) {
	return s.c.Do(ctx, s.c.B().Zrange().Key(idx).Min("0").Max("-1").Withscores().Build()).AsZScores()
}

// ListByUser implements session.UserSessions: the index, then every listed
// session in one pipelined round trip. On the way it repairs the index:
// entries whose session is gone are removed once their score (deadline)
// has passed, entries of another user's session are removed, and scores
// that lag a session's deadline are raised.
func (s *Store) ListByUser(ctx context.Context, userID string) ([]*session.Session, error) {
	return listIndexed(ctx, s, "list sessions", "session", userID, s.indexKey(userID), s.sessionKey,
		func(id, v string) (*session.Session, string, time.Time, time.Time, error) {
			ss, err := decodeRecord(id, v)
			if err != nil {
				return nil, "", time.Time{}, time.Time{}, err
			}
			return ss, ss.UserID, ss.Deadline(), ss.CreatedAt, nil
		})
}

// listIndexed reads every record the sorted-set index idx of userID lists,
// in one pipelined round trip, and returns the live ones oldest first. On the
// way it repairs the index: entries whose record is gone are removed once
// their score (deadline) has passed, entries of another user's record are
// removed, and scores that lag a record's deadline are raised. decode
// returns a record with its owner, deadline and creation time.
func listIndexed[T any](ctx context.Context, s *Store, op, kind, userID, idx string,
	key func(id string) string,
	decode func(id, v string) (T, string, time.Time, time.Time, error)) ([]T, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	zs, err := s.zscores(ctx, idx)
	if err != nil {
		return nil, s.wrap(ctx, op, err)
	}
	if len(zs) == 0 {
		return nil, nil
	}
	cmds := make(rueidis.Commands, len(zs))
	for i, z := range zs {
		cmds[i] = s.c.B().Get().Key(key(z.Member)).Build()
	}
	res := s.c.DoMulti(ctx, cmds...)
	now := ms(s.now())
	var fix indexFix
	type item struct {
		rec     T
		id      string
		created time.Time
	}
	items := make([]item, 0, len(zs))
	for i, z := range zs {
		v, err := res[i].ToString()
		if rueidis.IsRedisNil(err) {
			if int64(z.Score) <= now {
				fix.stale = append(fix.stale, z.Member)
			}
			continue
		}
		if err != nil {
			return nil, s.wrap(ctx, op, err)
		}
		rec, owner, deadline, created, err := decode(z.Member, v)
		if err != nil {
			return nil, fmt.Errorf("redisstore: %s: %s %s: %w", op, kind, z.Member, err)
		}
		if owner != userID {
			fix.remove = append(fix.remove, z.Member)
			continue
		}
		dl := ms(deadline)
		if dl <= now {
			continue
		}
		if int64(z.Score) < dl {
			fix.raise = append(fix.raise, rueidis.ZScore{Member: z.Member, Score: float64(dl)})
		}
		items = append(items, item{rec: rec, id: z.Member, created: created})
	}
	if err := s.fixIndex(ctx, idx, now, fix); err != nil {
		return nil, s.wrap(ctx, op, err)
	}
	slices.SortFunc(items, func(a, b item) int {
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	out := make([]T, len(items))
	for i, it := range items {
		out[i] = it.rec
	}
	return out, nil
}

// indexFix is what a reader found wrong with a user's index.
type indexFix struct {
	remove []string         // entries to drop now
	stale  []string         // entries to drop if their score is still <= now
	raise  []rueidis.ZScore // scores to raise to a session's deadline
}

// fixIndex applies f to the index idx in one round trip (nothing if there
// is nothing to do).
func (s *Store) fixIndex(ctx context.Context, idx string, now int64, f indexFix) error {
	var cmds rueidis.Commands
	if len(f.remove)+len(f.stale) > 0 {
		args := append([]string{itoa(now), strconv.Itoa(len(f.remove))}, f.remove...)
		args = append(args, f.stale...)
		// EVAL, not EVALSHA: this is rare, and one round trip either way.
		cmds = append(cmds, indexCleanScript.eval(s.c, idx, args))
	}
	if len(f.raise) > 0 {
		z := s.c.B().Zadd().Key(idx).Xx().Gt().ScoreMember()
		for _, r := range f.raise {
			z = z.ScoreMember(r.Score, r.Member)
		}
		cmds = append(cmds, z.Build())
	}
	if len(cmds) == 0 {
		return nil
	}
	for _, r := range s.c.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			return err
		}
	}
	return nil
}

// DeleteByUser implements session.UserSessions. It reads the user's index,
// deletes every listed session that still belongs to the user (each with a
// script on its own slot, pipelined), then removes their index entries.
// Sessions created while it runs may survive it, as if created after it.
func (s *Store) DeleteByUser(ctx context.Context, userID, keep string) (int, error) {
	const op = "delete user sessions"
	ids, err := s.deleteIndexed(ctx, op, s.indexKey(userID), userID, keep, s.sessionKey, deleteScript)
	if err == nil {
		err = s.confirmIDs(ctx, op, RevokedSessions, ids, s.sessionKey)
	}
	return len(ids), err
}

// confirmIDs is confirm for the records named by key(id) for each of ids.
func (s *Store) confirmIDs(ctx context.Context, op string, kind RevocationKind, ids []string, key func(string) string) error {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = key(id)
	}
	return s.confirm(ctx, op, Revocation{Kind: kind, IDs: ids}, keys...)
}

// deleteIndexed deletes every record listed in the user's index idx but
// keep that still belongs to userID: sc (deleteScript or
// deleteFamilyScript) runs on each record key (named by key(member)), each
// on its own slot, pipelined; then the index is repaired. It returns the
// IDs of the records that were live when deleted.
func (s *Store) deleteIndexed(ctx context.Context, op, idx, userID, keep string, key func(string) string, sc *script) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	zs, err := s.zscores(ctx, idx)
	if err != nil {
		return nil, s.wrap(ctx, op, err)
	}
	now := ms(s.now())
	calls := make([]scriptCall, 0, len(zs))
	members := make([]rueidis.ZScore, 0, len(zs))
	keys := make([]string, 0, len(zs))
	for _, z := range zs {
		if z.Member == keep {
			continue
		}
		k := key(z.Member)
		calls = append(calls, scriptCall{key: k, args: []string{itoa(now), userID}})
		members = append(members, z)
		keys = append(keys, k)
	}
	if len(calls) == 0 {
		return nil, nil
	}
	defer s.ownWrite(keys...)()
	var ids []string
	var fix indexFix
	var firstErr error
	for i, r := range sc.execMulti(ctx, s.c, calls) {
		z := members[i]
		v, err := r.AsInt64()
		switch {
		case rueidis.IsRedisNil(err): // gone already
			if int64(z.Score) <= now {
				fix.stale = append(fix.stale, z.Member)
			}
		case err != nil:
			if firstErr == nil {
				firstErr = err
			}
		case v == -1: // another user's record: not ours to delete
			fix.remove = append(fix.remove, z.Member)
		default: // deleted: 1 if it was live, 0 if already past its deadline
			if v == 1 {
				ids = append(ids, z.Member)
			}
			fix.remove = append(fix.remove, z.Member)
		}
	}
	if err := s.fixIndex(ctx, idx, now, fix); err != nil && firstErr == nil {
		firstErr = err
	}
	if firstErr != nil {
		return ids, s.wrap(ctx, op, firstErr)
	}
	return ids, nil
}

// SetData implements session.DataStore with a compare-and-set script: the
// version is compared and the data replaced in one step, on the server.
func (s *Store) SetData(ctx context.Context, id string, data []byte, expect int64) (int64, error) {
	return s.setData(ctx, "set session data", setDataScript, s.sessionKey(id), data, expect)
}

// setData runs a data compare-and-set script on one record key: -1 means the
// record is gone (ErrNotFound), 0 that the version moved on (ErrConflict).
func (s *Store) setData(ctx context.Context, op string, sc *script, key string, data []byte, expect int64) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	defer s.ownWrite(key)()
	r, err := sc.exec(ctx, s.c, key,
		packInt64(expect), packInt64(expect+1), rueidis.BinaryString(data), itoa(ms(s.now()))).AsInt64()
	if err != nil {
		return 0, s.wrap(ctx, op, err)
	}
	switch r {
	case -1:
		return 0, notFound(op)
	case 0:
		return 0, fmt.Errorf("redisstore: %s: %w", op, session.ErrConflict)
	}
	return expect + 1, nil
}
