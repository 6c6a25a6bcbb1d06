// Package ratelimit counts failed attempts with the generic cell rate
// algorithm (GCRA): a key may fail N times in a burst, then once per
// Per/N, and is told how long to wait when it is over its rate.
//
// An attempt reserves its event before its outcome is known (Reserve checks
// and records in one atomic step, so a parallel burst cannot pass the check
// all at once) and may give it back (Refund) when it should not count, such
// as a successful login.
//
// The arithmetic lives in three pure functions, Check, Record and Unrecord,
// so that every backend — the in-process Memory limiter here, the shared
// Redis script and the PostgreSQL statement — computes the same answer. A key's only state is one timestamp, which may be
// forgotten once it has passed.
package ratelimit
