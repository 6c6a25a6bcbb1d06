// Package pgstore is sessiond's PostgreSQL store: users and sessions in one
// database that several sessiond nodes share, for deployments that want
// durable state in a database they already run.
//
// Queries go through a pgx connection pool (pgxpool); its size and timeouts
// come from the DSN (pool_max_conns, pool_min_conns, ...; the default is
// pgxpool's, max(4, runtime.NumCPU())). Schema migrations are embedded and
// applied with goose, under a PostgreSQL advisory lock so that several nodes
// starting at once apply them exactly once. Every multi-step change runs in
// one transaction. A background sweeper deletes expired sessions in small
// batches that skip rows a request holds, so it never blocks requests.
//
// Errors wrap session.ErrNotFound for missing or expired records,
// session.ErrConflict for taken IDs, emails and stale data versions,
// session.ErrUnavailable when PostgreSQL cannot be reached, and the context's
// error when the caller's context ends. After PostgreSQL comes back the same
// Store serves again without being reopened.
package pgstore
