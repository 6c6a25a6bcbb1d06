package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/rueidis"

	"github.com/sessiond/sessiond/refresh"
)

var _ refresh.Backend = (*Store)(nil)

// CreateFamily implements refresh.Store, in one round trip without scripts:
// it adds the family to its user's index (ZADD GT, extending the index's
// expiry to the family's absolute expiry) and stores the family record (SET
// NX, expiring at its deadline) and the first token's record (SET NX,
// expiring at the family's absolute expiry). It returns nil only if all
// succeeded; otherwise it takes back (best effort) what it stored, and a
// leftover is harmless: a token without its family resolves to
// ErrNotFound, and a family whose token was never handed out just expires.
// An existing family or token with the same ID is refresh.ErrConflict.
func (s *Store) CreateFamily(ctx context.Context, f *refresh.Family, first *refresh.Token) error {
	const op = "create family"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	frec, err := encodeFamily(f)
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	dl := familyDeadlineMS(f)
	exp := max(ms(f.ExpiresAt), dl)
	trec, err := encodeToken(first, f.ID, f.UserID, exp)
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	fkey, tkey := s.familyKey(f.ID), s.refreshTokenKey(first.ID)
	cmds := rueidis.Commands{
		s.c.B().Set().Key(fkey).Value(rueidis.BinaryString(frec)).Nx().PxatMillisecondsTimestamp(dl).Build(),
		s.c.B().Set().Key(tkey).Value(rueidis.BinaryString(trec)).Nx().PxatMillisecondsTimestamp(exp).Build(),
	}
	// Dead on arrival: nothing to index (an expiry in the past would
	// delete the index); SET with a past PXAT stores nothing but still
	// tells a live duplicate apart.
	live := dl > ms(s.now())
	idx, cidx := s.familiesKey(f.UserID), s.clientFamiliesKey(f.ClientID)
	if live {
		cmds = append(cmds,
			s.c.B().Zadd().Key(idx).Gt().ScoreMember().ScoreMember(float64(dl), f.ID).Build(),
			s.c.B().Pexpireat().Key(idx).MillisecondsTimestamp(exp).Nx().Build(), // a new index
			s.c.B().Pexpireat().Key(idx).MillisecondsTimestamp(exp).Gt().Build(), // a longer-lived family
		)
		if f.ClientID != "" {
			// The client's index, scored by absolute expiry (which rotation
			// does not move), for RevokeFamiliesByClient.
			cmds = append(cmds,
				s.c.B().Zadd().Key(cidx).Gt().ScoreMember().ScoreMember(float64(exp), f.ID).Build(),
				s.c.B().Pexpireat().Key(cidx).MillisecondsTimestamp(exp).Nx().Build(),
				s.c.B().Pexpireat().Key(cidx).MillisecondsTimestamp(exp).Gt().Build(),
			)
		}
	}
	res := s.c.DoMulti(ctx, cmds...)
	var firstErr error
	conflict := false
	stored := [2]bool{}
	for i, r := range res[:2] {
		switch err := r.Error(); {
		case err == nil:
			stored[i] = true
		case rueidis.IsRedisNil(err):
			conflict = true
		case firstErr == nil:
			firstErr = err
		}
	}
	added, cadded := false, false
	if live {
		n, err := res[2].AsInt64()
		added = err == nil && n == 1
		if f.ClientID != "" {
			n, err := res[5].AsInt64()
			cadded = err == nil && n == 1
		}
		for _, r := range res[2:] {
			if err := r.Error(); err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	if !conflict && firstErr == nil {
		return nil
	}
	// Take back what this call stored (best effort: Redis may be down).
	var undo rueidis.Commands
	if stored[0] {
		undo = append(undo, s.c.B().Del().Key(fkey).Build())
	}
	if stored[1] {
		undo = append(undo, s.c.B().Del().Key(tkey).Build())
	}
	if added {
		undo = append(undo, s.c.B().Zrem().Key(idx).Member(f.ID).Build())
	}
	if cadded {
		undo = append(undo, s.c.B().Zrem().Key(cidx).Member(f.ID).Build())
	}
	if len(undo) > 0 {
		s.c.DoMulti(ctx, undo...)
	}
	if firstErr != nil {
		return s.wrap(ctx, op, firstErr)
	}
	return fmt.Errorf("redisstore: %s: %w", op, refresh.ErrConflict)
}

// getToken reads a token record; ErrNotFound when it is missing or past its
// family's absolute expiry.
func (s *Store) getToken(ctx context.Context, op, id string, now int64) (*tokenRecord, error) {
	v, err := s.c.Do(ctx, s.c.B().Get().Key(s.refreshTokenKey(id)).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return nil, notFound(op)
	}
	if err != nil {
		return nil, s.wrap(ctx, op, err)
	}
	rec, err := decodeToken(id, v)
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if rec.expires <= now {
		return nil, notFound(op)
	}
	return rec, nil
}

// getFamily reads a family record; ErrNotFound when it is missing or past
// its deadline.
func (s *Store) getFamily(ctx context.Context, op, id string, now int64) (*refresh.Family, error) {
	v, err := s.c.Do(ctx, s.c.B().Get().Key(s.familyKey(id)).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return nil, notFound(op)
	}
	if err != nil {
		return nil, s.wrap(ctx, op, err)
	}
	f, err := decodeFamily(id, v)
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if ms(f.Deadline()) <= now {
		return nil, notFound(op)
	}
	return f, nil
}

// LookupToken implements refresh.Store: GET of the token, then GET of its
// family (two round trips). Either missing or expired is ErrNotFound.
//
// A spent token whose rotation may be unfinished (the family's Generation is
// not past the successor's) has its rotation finished first, idempotently,
// in one more round trip (see finishRotation and the package
// documentation): so a retry inside the grace window, or a concurrent
// loser of Rotate, never sees a spent token whose family has not moved on,
// which the refresh.Service would take for reuse.
func (s *Store) LookupToken(ctx context.Context, id string) (*refresh.Token, *refresh.Family, error) {
	const op = "lookup refresh token"
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	now := ms(s.now())
	rec, err := s.getToken(ctx, op, id, now)
	if err != nil {
		return nil, nil, err
	}
	f, err := s.getFamily(ctx, op, rec.tok.FamilyID, now)
	if err != nil {
		return nil, nil, err
	}
	if rec.next != nil && f.Generation <= rec.tok.Generation+1 {
		nf, err := s.finishRotation(ctx, op, rec, f.Generation > rec.tok.Generation)
		if err != nil {
			return nil, nil, err
		}
		if nf != nil {
			f = nf
		}
	}
	return &rec.tok, f, nil
}

// finishRotation carries out the second half of the rotation recorded in the
// spent token rec, in one pipelined round trip: it stores the successor's
// record (SET NX: never overwriting it, spent or not), and unless
// successorOnly, advances the family (advanceScript, a no-op when already
// advanced) and raises its score in the user's index (ZADD XX GT: never
// re-adding a revoked family). Every step is idempotent, so Rotate's winner
// and any number of LookupToken calls may run it concurrently.
//
// It returns the family as advanced (nil when successorOnly), ErrNotFound
// when the family is gone or past its deadline.
func (s *Store) finishRotation(ctx context.Context, op string, rec *tokenRecord, successorOnly bool) (*refresh.Family, error) {
	next := rec.next
	nrec, err := encodeToken(next, rec.tok.FamilyID, rec.userID, rec.expires)
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	cmds := rueidis.Commands{
		s.c.B().Set().Key(s.refreshTokenKey(next.ID)).Value(rueidis.BinaryString(nrec)).Nx().PxatMillisecondsTimestamp(rec.expires).Build(),
	}
	var fkey string
	var args []string
	if !successorOnly {
		fkey, args = s.familyKey(rec.tok.FamilyID), s.advanceArgs(rec)
		dl := rec.expires
		if rec.nextIdle > 0 && rec.nextIdle < dl {
			dl = rec.nextIdle
		}
		cmds = append(cmds,
			advanceScript.evalsha(s.c, fkey, args),
			s.c.B().Zadd().Key(s.familiesKey(rec.userID)).Xx().Gt().ScoreMember().ScoreMember(float64(dl), rec.tok.FamilyID).Build(),
		)
	}
	res := s.c.DoMulti(ctx, cmds...)
	if err := res[0].Error(); err != nil && !rueidis.IsRedisNil(err) {
		return nil, s.wrap(ctx, op, err)
	}
	if successorOnly {
		return nil, nil
	}
	adv := res[1]
	if isNoScript(adv.Error()) {
		adv = s.c.Do(ctx, advanceScript.eval(s.c, fkey, args))
	}
	v, err := adv.ToString()
	if rueidis.IsRedisNil(err) {
		return nil, notFound(op)
	}
	if err != nil {
		return nil, s.wrap(ctx, op, err)
	}
	// If only the index update failed, its score lags the deadline: harmless
	// (Families repairs it), but Redis is failing, so say so.
	if err := res[2].Error(); err != nil {
		return nil, s.wrap(ctx, op, err)
	}
	f, err := decodeFamily(rec.tok.FamilyID, v)
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return f, nil
}

// advanceArgs are advanceScript's arguments for the rotation recorded in
// the spent token rec.
func (s *Store) advanceArgs(rec *tokenRecord) []string {
	return []string{itoa(rec.tok.Generation), packInt64(ms(rec.tok.SpentAt), rec.nextIdle), itoa(rec.nextIdle),
		itoa(ms(s.now())), packInt64(rec.tok.Generation + 1)}
}

// Rotate implements refresh.Store in two round trips. First a script on
// the old token's key spends it only if it is unspent (else
// refresh.ErrReused), recording in the same step the sealed pair and the
// successor: exactly one of several concurrent callers gets past this
// compare-and-set. The winner then finishes the rotation (finishRotation):
// the successor's record, the family's Generation, LastUsedAt and
// IdleExpiresAt (and its key's expiry), and the index score, pipelined.
//
// Should the winner fail between the two steps, the spent record holds all
// the second step needs, and LookupToken finishes it for whoever presents
// the token next; see the package documentation. A token whose family is
// gone or expired is ErrNotFound (spending it, if it was still unspent, is
// of no consequence: the family is gone).
func (s *Store) Rotate(ctx context.Context, oldID string, next *refresh.Token, sealed []byte, used, idle time.Time) (*refresh.Family, error) {
	const op = "rotate refresh token"
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	rec, err := s.spend(ctx, op, oldID, next, sealed, used, idle)
	if err != nil {
		return nil, err
	}
	return s.finishRotation(ctx, op, rec, false)
}

// spend is Rotate's first step: spendScript on the old token's key. It
// returns the spent record (without its sealed pair); ErrReused when the
// token was spent already.
func (s *Store) spend(ctx context.Context, op, oldID string, next *refresh.Token, sealed []byte, used, idle time.Time) (*tokenRecord, error) {
	args, err := spendArgs(ms(s.now()), next, sealed, used, idle)
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	m, err := spendScript.exec(ctx, s.c, s.refreshTokenKey(oldID), args...).ToMessage()
	if rueidis.IsRedisNil(err) {
		return nil, notFound(op)
	}
	if err != nil {
		return nil, s.wrap(ctx, op, err)
	}
	if m.IsInt64() {
		return nil, fmt.Errorf("redisstore: %s: %w", op, refresh.ErrReused)
	}
	v, err := m.ToString()
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	rec, err := decodeToken(oldID, v)
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return rec, nil
}

// RevokeFamily implements refresh.Store: GETDEL of the family, then its
// entries in its user's and its client's index. Its tokens are left to expire with their TTL (the family's
// absolute expiry): they resolve to a missing family, which is ErrNotFound.
func (s *Store) RevokeFamily(ctx context.Context, id string) error {
	const op = "revoke family"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	v, err := s.c.Do(ctx, s.c.B().Getdel().Key(s.familyKey(id)).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return notFound(op)
	}
	if err != nil {
		return s.wrap(ctx, op, err)
	}
	f, err := decodeFamily(id, v)
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	zrem := rueidis.Commands{s.c.B().Zrem().Key(s.familiesKey(f.UserID)).Member(id).Build()}
	if f.ClientID != "" {
		zrem = append(zrem, s.c.B().Zrem().Key(s.clientFamiliesKey(f.ClientID)).Member(id).Build())
	}
	for _, r := range s.c.DoMulti(ctx, zrem...) {
		if err := r.Error(); err != nil {
			return s.wrap(ctx, op, err)
		}
	}
	if ms(f.Deadline()) <= ms(s.now()) {
		return notFound(op)
	}
	return s.confirm(ctx, op, Revocation{Kind: RevokedFamilies, IDs: []string{id}}, s.familyKey(id))
}

// GetFamily implements refresh.Index: one GET.
func (s *Store) GetFamily(ctx context.Context, id string) (*refresh.Family, error) {
	const op = "get family"
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return s.getFamily(ctx, op, id, ms(s.now()))
}

// Families implements refresh.Index: the user's family index, then every
// listed family in one pipelined round trip, repairing the index as
// ListByUser does for sessions.
func (s *Store) Families(ctx context.Context, userID string) ([]*refresh.Family, error) {
	return listIndexed(ctx, s, "list families", "family", userID, s.familiesKey(userID), s.familyKey,
		func(id, v string) (*refresh.Family, string, time.Time, time.Time, error) {
			f, err := decodeFamily(id, v)
			if err != nil {
				return nil, "", time.Time{}, time.Time{}, err
			}
			return f, f.UserID, f.Deadline(), f.CreatedAt, nil
		})
}

// RevokeFamilies implements refresh.Index: it reads the user's family index,
// deletes every listed family but keep that still belongs to the user (a
// script per family, on its own slot, pipelined), then removes their index
// entries. It returns the IDs of the live families it deleted. Families
// created while it runs may survive it, as if created after.
func (s *Store) RevokeFamilies(ctx context.Context, userID, keep string) ([]string, error) {
	const op = "revoke families"
	ids, err := s.deleteIndexed(ctx, op, s.familiesKey(userID), userID, keep, s.familyKey, deleteFamilyScript)
	if err == nil {
		err = s.confirmIDs(ctx, op, RevokedFamilies, ids, s.familyKey)
	}
	return ids, err
}

// RevokeFamiliesByClient implements refresh.Index as RevokeFamilies does,
// from the client's family index (kept since CreateFamily recorded it:
// families created by a sessiond before that index existed are not in it,
// and end only with their expiry or their user's revocation). Entries left
// in the users' indexes are repaired when those are read.
func (s *Store) RevokeFamiliesByClient(ctx context.Context, clientID string) ([]string, error) {
	const op = "revoke client families"
	ids, err := s.deleteIndexed(ctx, op, s.clientFamiliesKey(clientID), clientID, "", s.familyKey,
		deleteClientFamilyScript)
	if err == nil {
		err = s.confirmIDs(ctx, op, RevokedFamilies, ids, s.familyKey)
	}
	return ids, err
}

// deleteClientFamilyScript is deleteFamilyScript with the client as the
// owner: the second owner() shadows luaFamily's.
//
//	KEYS[1] family key
//	ARGV[1] now, ms
//	ARGV[2] the client ID
var deleteClientFamilyScript = newScript(luaFamily + `
local function owner(s)
  local u = struct.unpack('>I2', s, 50)
  return string.sub(s, 60 + u, 59 + u + struct.unpack('>I2', s, 52))
end
` + deleteOwned)

// SetFamilyData implements refresh.Index with a compare-and-set script on
// the family record.
func (s *Store) SetFamilyData(ctx context.Context, id string, data []byte, expect int64) (int64, error) {
	return s.setData(ctx, "set family data", setFamilyDataScript, s.familyKey(id), data, expect)
}

// Deny implements refresh.Denylist: one script on the entry's key, which
// expires at until, keeping the later of an existing entry's expiry and
// until. An until already past (by the store's clock) adds nothing.
func (s *Store) Deny(ctx context.Context, key string, until time.Time) error {
	const op = "deny"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	u := ms(until)
	if u <= ms(s.now()) {
		return nil
	}
	defer s.ownWrite(s.denyKey(key))()
	if err := denyScript.exec(ctx, s.c, s.denyKey(key), itoa(u)).Error(); err != nil {
		return s.wrap(ctx, op, err)
	}
	return s.confirm(ctx, op, Revocation{Kind: DeniedKeys, IDs: []string{key}, Until: until}, s.denyKey(key))
}

// Denied implements refresh.Denylist: one GET per key through the near
// cache (the entry's value is its until; a missing key is not denied, and
// that answer is cached too until Redis says the key was set), pipelined in
// one round trip on a miss (in a cluster, one per node holding a key: the
// keys are on different slots). An entry exists until its expiry, by
// Redis's clock. A key found denied answers true; otherwise any error is
// ErrUnavailable, never "not denied".
func (s *Store) Denied(ctx context.Context, keys ...string) (bool, error) {
	const op = "denied"
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	switch len(keys) {
	case 0:
		return false, nil
	case 1:
		err := s.cachedGet(ctx, s.denyKey(keys[0])).Error()
		if rueidis.IsRedisNil(err) {
			return false, nil
		}
		if err != nil {
			return false, s.wrap(ctx, op, err)
		}
		return true, nil
	}
	var errs []error
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = s.denyKey(k)
	}
	for _, r := range s.cachedGets(ctx, names) {
		err := r.Error()
		if rueidis.IsRedisNil(err) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return true, nil // definite, whatever the other keys' nodes said
	}
	if len(errs) > 0 {
		return false, s.wrap(ctx, op, errors.Join(errs...))
	}
	return false, nil
}
