// Package ratelimit counts failed attempts with the generic cell rate
// algorithm (GCRA): a key may fail N times in a burst, then once per
// Per/N, and is told how long to wait when it is over its rate.
//
// The arithmetic lives in two pure functions, Check and Record, so that every
// backend — the in-process Memory limiter here, and the shared Redis script —
// computes the same answer. A key's only state is one timestamp, which may be
// forgotten once it has passed.
package ratelimit
