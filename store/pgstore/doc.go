// Package pgstore is sessiond's PostgreSQL store: users, sessions, signing
// keys, refresh-token families and the access-token denylist, and OAuth
// clients, in one database that several sessiond nodes share, for
// deployments that want durable state in a database they already run.
//
// Queries go through a pgx connection pool (pgxpool); its size and timeouts
// come from the DSN (pool_max_conns, pool_min_conns, ...; the default is
// pgxpool's, max(4, runtime.NumCPU())). Schema migrations are embedded and
// applied with goose, under a PostgreSQL advisory lock so that several nodes
// starting at once apply them exactly once. Every multi-step change runs in
// one transaction; a refresh-token rotation locks its family row, so that of
// concurrent rotations of one token on any nodes exactly one wins. A
// background sweeper deletes expired sessions, refresh families (with their
// tokens), denylist entries and spent rate-limit keys in small batches that
// skip rows a request holds, so it never blocks requests. Store.Limiter is a
// login limiter shared by every node on the database.
//
// Signing keys are stored as token.Keys hands them over: seal them (a
// token.Sealer) before they reach a database that other systems can read.
//
// Errors wrap session.ErrNotFound for missing or expired records,
// session.ErrConflict for taken IDs, emails and stale data versions,
// session.ErrUnavailable when PostgreSQL cannot be reached, and the context's
// error when the caller's context ends. After PostgreSQL comes back the same
// Store serves again without being reopened.
package pgstore
