// Package redisstore keeps sessiond's sessions, its refresh-token families
// with the access-token denylist (refresh.Backend), and its failed-login
// rate limits, in Redis, Redis Cluster or Redis behind Sentinel (7.0 or
// later), with the rueidis
// client (auto-pipelined; client-side caching off). Several sessiond nodes
// sharing one Redis see one truth: a session or token family created,
// touched, rotated or revoked on one node is seen by the others at their
// next request. Users (and signing keys and OAuth clients) live elsewhere
// (SQLite or PostgreSQL).
//
// # Keys
//
// With the default prefix "sessiond:":
//
//	sessiond:s:{<session ID>}             string: the session record
//	sessiond:u:{<user ID>}:sessions       sorted set: the user's session index
//	sessiond:f:{<family ID>}              string: a refresh family record
//	sessiond:u:{<user ID>}:families       sorted set: the user's family index
//	sessiond:c:{<client ID>}:families     sorted set: the OAuth client's family index (absolute expiry)
//	sessiond:rt:{<token ID>}              string: a refresh token record
//	sessiond:deny:{<key>}                 string: a denylist entry ("jti:…", "sid:…", "client:…")
//	sessiond:rl:<scope>:<key>             string: a rate-limit TAT (Unix ns)
//	sessiond:ack:{<tag>}                  string "1", 10s TTL: the marker a revocation's WAIT counts (revocation.go)
//
// The session record is one compact binary string (record.go: fixed header
// of Unix-ms times and version, then user ID, hash, IP, user agent, method
// and data), so that Get is one GET and a session costs one small key. The
// key expires (PXAT) at the session's deadline, min(IdleExpiresAt,
// ExpiresAt), and Touch moves that expiry: Redis's TTLs are authoritative
// and nothing needs sweeping.
//
// The user's index has one member per session ID, scored with the session's
// deadline (Unix ms); the index key itself expires with the latest absolute
// expiry of its sessions. The braces are cluster hash tags: a session's
// key lives on the slot of its ID (Get needs nothing else), a user's index
// on the slot of the user ID, where other per-user keys may join it. Every
// script touches one key only, so nothing runs across slots.
//
// # Consistency without cross-slot transactions
//
// The rule the index keeps is: every session that Create reported as
// created is in its user's index for as long as it lives. Entries without a
// session are allowed for a while, and are invisible:
//
//   - Create sends, in one pipelined round trip without scripts, ZADD GT of
//     the index entry, PEXPIREAT NX and GT of the index (so that it outlives
//     every session it lists), and SET NX PXAT of the record. It returns nil
//     only if all succeeded; a record stored without its entry (a node
//     failing in between) belongs to a token that was never handed out, and
//     just expires. A live session with the same ID is session.ErrConflict
//     (and an entry just added for it is taken back).
//   - Touch rewrites the record and its expiry in a script, then raises the
//     entry's score (ZADD XX GT). Should the second step fail, the score lags
//     the deadline; that is harmless because entries are removed by score
//     only once their session is confirmed gone (below).
//   - Delete is GETDEL of the record, then ZREM of its entry; DeleteByUser
//     reads the index, deletes each listed session that still belongs to the
//     user (a script per session, pipelined), then removes those entries.
//     Sessions created while it runs may survive it, as if created after.
//   - ListByUser reads the index, then every listed session in one
//     pipelined round trip, returns the live ones oldest first, and repairs
//     the index as it goes: an entry whose session is gone is removed once its score
//     has passed (so an entry whose Create is still in flight is never
//     removed), lagging scores are raised.
//
// SetData is a compare-and-set script on the record: the version is
// compared and the data replaced in one step on the server. Get and Create
// run no script; Touch, SetData and DeleteByUser do (one key each).
//
// # Refresh tokens
//
// A family is kept like a session: one binary record (refreshrecord.go)
// expiring (PXAT) at its deadline, min(IdleExpiresAt, ExpiresAt), listed in
// the user's family index (score: the deadline; the index expires with the
// latest absolute expiry) under the same rules and with the same repair as
// the session index. CreateFamily is, like Create, one pipelined round trip
// without scripts (family SET NX, first token SET NX, ZADD GT, PEXPIREAT NX
// and GT), taking back what it stored if any part failed. SetFamilyData is
// a compare-and-set script; GetFamily one GET; Families and RevokeFamilies
// work like ListByUser and DeleteByUser.
//
// A token record holds its family's ID (and user ID), its generation, hash,
// SpentAt and sealed successor pair, and expires at the family's absolute
// expiry, so that a spent token is recognized as reused for as long as its
// family could live. RevokeFamily deletes the family record and its index
// entry only: its tokens then resolve to a missing family, which is
// ErrNotFound, until they expire. LookupToken is a GET of the token, then a
// GET of its family; either missing, or past its deadline by the store's
// clock, is ErrNotFound.
//
// Rotate cannot be one transaction: the old token, its successor and the
// family are on three slots. It is two steps:
//
//  1. Spend: a script on the old token's key sets SpentAt and the sealed
//     pair only if SpentAt is 0, else the call is refresh.ErrReused. In the
//     same write it records the successor (its ID, hash and generation, and
//     the family's new IdleExpiresAt), so the spent record is a complete
//     description of the rotation. This compare-and-set on one key is the
//     rotation's linearization point: of concurrent callers exactly one
//     wins.
//  2. Finish (the winner only), pipelined in one round trip: SET NX of the
//     successor's record; a script on the family key that, if the family's
//     Generation is still at most the spent token's, sets it to that plus
//     one, with LastUsedAt = SpentAt, the new IdleExpiresAt and the key's
//     expiry at the new deadline (otherwise it leaves the family alone); and
//     ZADD XX GT of the family's index score. All three are idempotent, and
//     none can undo a later rotation or a revocation (SET NX never
//     overwrites a successor that was spent since; XX never re-adds a
//     revoked family; the family script does nothing to a missing family).
//
// Between the steps, the spent token's family still has the old Generation
// (and perhaps no successor record exists yet). refresh.Service treats a
// spent token as a grace retry only if rec.Generation == fam.Generation-1,
// and would take this state for reuse and revoke the family: which happens
// not only when a node dies between the steps, but whenever a concurrent
// loser of step 1 (or a client's quick retry) looks the token up before the
// winner's step 2 lands. So LookupToken finishes the rotation itself: when
// it finds a spent token whose family's Generation is at most the token's
// (step 2 not applied), it runs step 2 from the spent record (one more round
// trip) and returns the family as advanced; when the Generation is exactly
// one more (the token is the family's latest spent one, a grace candidate),
// it re-sends the successor's SET NX, in case only that part of step 2 was
// lost. Hence:
//
//   - A crash (or a Redis failure) after step 1: Rotate's caller gets an
//     error (ErrUnavailable, 503); a retry with the same token inside the
//     grace window finds it spent, finishes the rotation, and gets the
//     sealed pair, whose refresh token now exists and works. It is never
//     taken for reuse.
//   - A retry after the grace window, or none: the same as when a completed
//     rotation's response is lost. The retry (with the rotation finished
//     first) is reuse and revokes the family; with no retry the family
//     stays at the old Generation with no live token, until it expires or
//     is revoked (nobody holds the successor: it was only ever sealed).
//   - A late step 2 (a slow winner, after LookupToken finished the rotation
//     or the successor was itself rotated, or after a revocation) changes
//     nothing.
//   - A token spent whose family is gone or past its deadline: Rotate
//     reports ErrNotFound (step 2 finds no family); the spend is moot.
//
// Memory: every rotation leaves a spent token record until the family's
// absolute expiry: about 200 bytes plus the sealed pair, which holds the
// successor's access token (about 1 KB in all, by MEMORY USAGE, with a
// 550-byte access token). A family refreshed every AccessTTL for its whole
// TTL keeps TTL/AccessTTL such records (2880, about 3 MB, with the defaults
// 720h and 15m); size Redis for the families' real refresh rates.
//
// The denylist keeps one key per entry, expiring at its "until": Deny is a
// script that sets the key, or moves its expiry later, never earlier.
// Denied sends one EXISTS per key in one pipelined round trip (the keys are
// on different slots, so no multi-key command can ask for them together; in
// a cluster rueidis sends each node its share in parallel), and reports
// true if any exists. Every script, here too, touches one key.
//
// # Failures
//
// A Redis that is down or does not answer within Options.Timeout is an error
// wrapping session.ErrUnavailable, never session.ErrNotFound (nor
// refresh.ErrReused, nor "not denied"), so callers fail closed (503)
// instead of treating the user as signed out. Reads are
// retried at most twice on a broken connection. The client reconnects by
// itself when Redis is back (including after a Cluster failover): no caller
// action is needed. What survives a Redis crash is what Redis's persistence
// keeps: run it with appendonly yes and appendfsync always for "nothing
// acknowledged is lost".
package redisstore
