package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/ratelimit"
)

// Limiter is a failed-attempt limiter (GCRA, see package ratelimit) whose
// state lives in Redis, so that every node sharing the Redis counts
// together. Each key's whole state is its theoretical arrival time (TAT),
// stored as Unix nanoseconds under prefix "rl:" scope ":" key, expiring at
// the TAT. Check reads it and applies ratelimit.Check; Fail runs a script
// that mirrors ratelimit.Record atomically on the server. Create it with
// Store.Limiter; it is safe for concurrent use.
type Limiter struct {
	s     *Store
	rate  ratelimit.Rate
	scope string
}

var _ account.Limiter = (*Limiter)(nil)

// Limiter returns a limiter allowing each key r.N failures in a burst, then
// one per r.Interval(). scope separates limiters that share keys (e.g.
// "login-ip", "login-account"). A Rate with no positive Interval (the zero
// Rate) is unlimited: Check returns 0 and Fail stores nothing. The time is
// the Store's Now. Keys are stored verbatim, so callers should bound their
// length.
func (s *Store) Limiter(r ratelimit.Rate, scope string) *Limiter {
	return &Limiter{s: s, rate: r, scope: scope}
}

// Check returns how long key must wait before its next attempt: 0 when one
// is allowed now. It records nothing. On error (Redis unreachable, ctx
// ended) callers should refuse the attempt (fail closed).
func (l *Limiter) Check(ctx context.Context, key string) (time.Duration, error) {
	const op = "rate limit check"
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if l.rate.Interval() <= 0 {
		return 0, nil
	}
	v, err := l.s.c.Do(ctx, l.s.c.B().Get().Key(l.s.limiterKey(l.scope, key)).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return 0, nil
	}
	if err != nil {
		return 0, l.s.wrap(ctx, op, err)
	}
	ns, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("redisstore: %s: bad stored time %q", op, v)
	}
	now := l.s.now()
	if ns <= now.UnixNano() { // past its TAT: as if never seen
		return 0, nil
	}
	return ratelimit.Check(time.Unix(0, ns), now, l.rate), nil
}

// Fail records one failed attempt for key, even when Check would have
// refused it, so call it only for attempts actually made.
func (l *Limiter) Fail(ctx context.Context, key string) error {
	const op = "rate limit fail"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	interval := l.rate.Interval()
	if interval <= 0 {
		return nil
	}
	now := l.s.now().UnixNano()
	err := gcraFailScript.exec(ctx, l.s.c, l.s.limiterKey(l.scope, key), itoa(now), itoa(int64(interval))).Error()
	if err != nil {
		return l.s.wrap(ctx, op, err)
	}
	return nil
}

// Reset forgets key's failed attempts, typically after a successful login.
func (l *Limiter) Reset(ctx context.Context, key string) error {
	const op = "rate limit reset"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if err := l.s.c.Do(ctx, l.s.c.B().Del().Key(l.s.limiterKey(l.scope, key)).Build()).Error(); err != nil {
		return l.s.wrap(ctx, op, err)
	}
	return nil
}
