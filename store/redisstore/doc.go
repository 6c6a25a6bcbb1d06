// Package redisstore keeps sessiond's sessions, and its failed-login rate
// limits, in Redis or Redis Cluster (7.0 or later), with the rueidis client
// (auto-pipelined; client-side caching off). Several sessiond nodes sharing
// one Redis see one truth: a session created, touched or revoked on one node
// is seen by the others at their next request. Users live elsewhere (SQLite
// or PostgreSQL).
//
// # Keys
//
// With the default prefix "sessiond:":
//
//	sessiond:s:{<session ID>}             string: the session record
//	sessiond:u:{<user ID>}:sessions       sorted set: the user's index
//	sessiond:rl:<scope>:<key>             string: a rate-limit TAT (Unix ns)
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
// # Failures
//
// A Redis that is down or does not answer within Options.Timeout is an error
// wrapping session.ErrUnavailable, never session.ErrNotFound, so callers
// fail closed (503) instead of treating the user as signed out. Reads are
// retried at most twice on a broken connection. The client reconnects by
// itself when Redis is back (including after a Cluster failover): no caller
// action is needed. What survives a Redis crash is what Redis's persistence
// keeps: run it with appendonly yes and appendfsync always for "nothing
// acknowledged is lost".
package redisstore
