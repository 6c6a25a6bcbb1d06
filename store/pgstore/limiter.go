package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/ratelimit"
)

// Limiter is a failed-attempt limiter (GCRA, see package ratelimit) whose
// state lives in PostgreSQL, so that every node sharing the database counts
// together. Each key's whole state is its theoretical arrival time (TAT), a
// row of rate_limits keyed by scope and key, in Unix nanoseconds. Reserve is
// one INSERT … ON CONFLICT DO UPDATE whose WHERE is ratelimit.Check: the row
// lock makes the check and the take one atomic step. Create it with
// Store.Limiter; it is safe for concurrent use.
type Limiter struct {
	s     *Store
	rate  ratelimit.Rate
	scope string
}

var _ account.Limiter = (*Limiter)(nil)

// Limiter returns a limiter allowing each key r.N attempts in a burst, then
// one per r.Interval(). scope separates limiters that share keys (e.g.
// "login-ip", "login-account"). A Rate with no positive Interval (the zero
// Rate) is unlimited: Reserve returns 0 and stores nothing. The time is the
// Store's Now; rows past their TAT are deleted by the sweeper.
func (s *Store) Limiter(r ratelimit.Rate, scope string) *Limiter {
	return &Limiter{s: s, rate: r, scope: scope}
}

// Reserve takes one attempt for key and returns 0, or, when key is over its
// rate, takes nothing and returns how long to wait. Of any number of
// parallel calls, from any number of nodes, at most the remaining allowance
// get 0. On error (database unreachable, ctx ended) callers should refuse
// the attempt (fail closed).
func (l *Limiter) Reserve(ctx context.Context, key string) (time.Duration, error) {
	const op = "rate limit reserve"
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("pgstore: %s: %w", op, err)
	}
	interval := l.rate.Interval()
	if interval <= 0 {
		return 0, nil
	}
	for range 3 {
		now := l.s.now()
		latest := now.Add(l.rate.Per - interval) // the latest TAT that allows one more
		var tat int64
		err := l.s.pool.QueryRow(ctx, `
			INSERT INTO rate_limits AS r (scope, key, tat) VALUES ($1, $2, $3::bigint + $4::bigint)
			ON CONFLICT (scope, key) DO UPDATE SET tat = GREATEST(r.tat, $3::bigint) + $4::bigint
			WHERE r.tat <= $5::bigint
			RETURNING tat`, l.scope, key, now.UnixNano(), int64(interval), latest.UnixNano()).Scan(&tat)
		if err == nil {
			return 0, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return 0, wrap(ctx, op, err)
		}
		// Refused: read the TAT for the wait. A refund or reset may have
		// come in between; then try again.
		err = l.s.pool.QueryRow(ctx, `SELECT tat FROM rate_limits WHERE scope = $1 AND key = $2`,
			l.scope, key).Scan(&tat)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return 0, wrap(ctx, op, err)
		}
		if err == nil && tat > now.UnixNano() {
			if wait := ratelimit.Check(time.Unix(0, tat), now, l.rate); wait > 0 {
				return wait, nil
			}
		}
	}
	return time.Second, nil // contended by refunds: refuse, briefly
}

// Refund gives back one attempt that Reserve took for key (see
// ratelimit.Unrecord), typically because it succeeded and only failures
// count. A row taken back to or past now is as if absent.
func (l *Limiter) Refund(ctx context.Context, key string) error {
	const op = "rate limit refund"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pgstore: %s: %w", op, err)
	}
	interval := l.rate.Interval()
	if interval <= 0 {
		return nil
	}
	if _, err := l.s.pool.Exec(ctx, `UPDATE rate_limits SET tat = tat - $3::bigint WHERE scope = $1 AND key = $2`,
		l.scope, key, int64(interval)); err != nil {
		return wrap(ctx, op, err)
	}
	return nil
}

// Reset forgets key's attempts, typically after a successful login.
func (l *Limiter) Reset(ctx context.Context, key string) error {
	const op = "rate limit reset"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pgstore: %s: %w", op, err)
	}
	if _, err := l.s.pool.Exec(ctx, `DELETE FROM rate_limits WHERE scope = $1 AND key = $2`, l.scope, key); err != nil {
		return wrap(ctx, op, err)
	}
	return nil
}
