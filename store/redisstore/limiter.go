package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/ratelimit"
)

// Limiter is a failed-attempt limiter (GCRA, see package ratelimit) whose
// state lives in Redis, so that every node sharing the Redis counts
// together. Each key's whole state is its theoretical arrival time (TAT),
// stored as Unix nanoseconds under prefix "rl:" scope ":" key, expiring at
// the TAT. Reserve and Refund each run one Lua script that mirrors
// ratelimit.Check and Record (Unrecord) atomically on the server. Create it with
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
// Rate) is unlimited: Reserve returns 0 and stores nothing. The time is
// the Store's Now. Keys are stored verbatim, so callers should bound their
// length.
func (s *Store) Limiter(r ratelimit.Rate, scope string) *Limiter {
	return &Limiter{s: s, rate: r, scope: scope}
}

// Reserve takes one attempt for key and returns 0, or, when key is over its
// rate, takes nothing and returns how long to wait. The check and the take
// are one script run on the server, so of any number of parallel calls, from
// any number of nodes, at most the remaining allowance get 0. On error
// (Redis unreachable, ctx ended) callers should refuse the attempt (fail
// closed).
func (l *Limiter) Reserve(ctx context.Context, key string) (time.Duration, error) {
	const op = "rate limit reserve"
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	interval := l.rate.Interval()
	if interval <= 0 {
		return 0, nil
	}
	now := l.s.now()
	latest := now.Add(l.rate.Per - interval).UnixNano()
	res, err := gcraReserveScript.exec(ctx, l.s.c, l.s.limiterKey(l.scope, key),
		itoa(now.UnixNano()), itoa(int64(interval)), itoa(latest)).ToArray()
	if err != nil {
		return 0, l.s.wrap(ctx, op, err)
	}
	if len(res) != 2 {
		return 0, fmt.Errorf("redisstore: %s: bad script reply", op)
	}
	taken, err1 := res[0].AsInt64()
	v, err2 := res[1].ToString()
	ns, err3 := strconv.ParseInt(v, 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, fmt.Errorf("redisstore: %s: bad script reply: %w", op, err)
	}
	if taken == 1 {
		return 0, nil
	}
	return max(ratelimit.Check(time.Unix(0, ns), now, l.rate), time.Nanosecond), nil
}

// Refund gives back one attempt that Reserve took for key (see
// ratelimit.Unrecord), typically because it succeeded and only failures
// count.
func (l *Limiter) Refund(ctx context.Context, key string) error {
	const op = "rate limit refund"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	interval := l.rate.Interval()
	if interval <= 0 {
		return nil
	}
	err := gcraRefundScript.exec(ctx, l.s.c, l.s.limiterKey(l.scope, key),
		itoa(l.s.now().UnixNano()), itoa(int64(interval))).Error()
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
