package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// DispatcherConfig configures a Dispatcher. Zero values mean the documented
// defaults.
type DispatcherConfig struct {
	Outbox Outbox // required
	Sender Sender // required
	// Logger receives one line per failure and give-up (id, kind, attempt,
	// error; never a body or a password). Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Jitter returns a number in [0, 1); default math/rand/v2.Float64.
	Jitter func() float64
	// Interval is how often Run looks for due messages when nothing wakes
	// it; default 5s. Enqueue wakes it at once.
	Interval time.Duration
	// Lease is how long a claim holds a message; default 2m. A send is cut
	// off at half the lease, so the lease never ends while its holder is
	// still talking to the relay.
	Lease time.Duration
	// Batch is the most messages claimed at once; default 20.
	Batch int
	// MaxAttempts is how many attempts a message gets before it is given up;
	// default 10.
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait before attempt n+1:
	// MinBackoff·2^(n-1), capped at MaxBackoff, of which a random half is
	// jitter (the wait is between half and all of it). Defaults 30s and 1h.
	MinBackoff time.Duration
	MaxBackoff time.Duration
}

// Metrics are the Dispatcher's counters since it started, safe to read at
// any time (the server exposes them to Prometheus).
type Metrics struct {
	Sent    atomic.Int64 // messages the relay accepted
	Retried atomic.Int64 // failed attempts rescheduled
	Failed  atomic.Int64 // messages given up (permanent refusal or attempts exhausted)
}

// Dispatcher moves messages from an Outbox to a Sender. Several dispatchers
// (in one process or many) may share an outbox: the claim lease keeps them
// from sending one message twice at the same time. Start Run in a goroutine
// and stop it with Close or by cancelling its context. Its methods are safe
// for concurrent use.
type Dispatcher struct {
	cfg     DispatcherConfig
	log     *slog.Logger
	Metrics Metrics

	wake      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	running   sync.WaitGroup
}

// NewDispatcher checks cfg and returns a stopped dispatcher.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	if cfg.Outbox == nil || cfg.Sender == nil {
		return nil, errors.New("mail: dispatcher: outbox and sender are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Jitter == nil {
		cfg.Jitter = rand.Float64
	}
	cfg.Interval = orDefaultDur(cfg.Interval, 5*time.Second)
	cfg.Lease = orDefaultDur(cfg.Lease, 2*time.Minute)
	cfg.MinBackoff = orDefaultDur(cfg.MinBackoff, 30*time.Second)
	cfg.MaxBackoff = orDefaultDur(cfg.MaxBackoff, time.Hour)
	cfg.Batch = orDefault(cfg.Batch, 20)
	cfg.MaxAttempts = orDefault(cfg.MaxAttempts, 10)
	if cfg.Batch < 1 || cfg.MaxAttempts < 1 || cfg.MaxBackoff < cfg.MinBackoff {
		return nil, errors.New("mail: dispatcher: batch and max attempts must be positive, max backoff at least min backoff")
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.Default()
	}
	return &Dispatcher{cfg: cfg, log: lg, wake: make(chan struct{}, 1), done: make(chan struct{})}, nil
}

func orDefaultDur(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

// Enqueue validates m, gives it an ID (when empty) and its times, stores it
// in the outbox and wakes Run. Once it returns nil the message survives a
// restart (as far as the outbox is durable) and will be sent.
func (d *Dispatcher) Enqueue(ctx context.Context, m *Message) error {
	if m.ID == "" {
		m.ID = newID()
	}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("mail: enqueue: %w", err)
	}
	now := d.cfg.Now()
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now
	}
	if m.NotBefore.IsZero() {
		m.NotBefore = now
	}
	if err := d.cfg.Outbox.Enqueue(ctx, m); err != nil {
		return fmt.Errorf("mail: enqueue: %w", err)
	}
	select {
	case d.wake <- struct{}{}:
	default:
	}
	return nil
}

// QueueDepth returns the number of messages waiting in the outbox (neither
// sent nor given up).
func (d *Dispatcher) QueueDepth(ctx context.Context) (int, error) {
	n, err := d.cfg.Outbox.Pending(ctx)
	if err != nil {
		return 0, fmt.Errorf("mail: queue depth: %w", err)
	}
	return n, nil
}

// RunOnce claims one batch of due messages and tries each once. It returns
// how many it claimed; an error only when the outbox fails.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	msgs, err := d.cfg.Outbox.Claim(ctx, d.cfg.Now(), d.cfg.Lease, d.cfg.Batch)
	if err != nil {
		return 0, fmt.Errorf("mail: dispatch: %w", err)
	}
	var errs []error
	for _, m := range msgs {
		if err := d.deliver(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	return len(msgs), errors.Join(errs...)
}

// deliver tries m once and records the outcome in the outbox.
func (d *Dispatcher) deliver(ctx context.Context, m *Message) error {
	sctx, cancel := context.WithTimeout(ctx, d.cfg.Lease/2)
	sendErr := d.cfg.Sender.Send(sctx, m)
	cancel()
	// The outcome is recorded even when ctx ended meanwhile (Close): a
	// message the relay accepted must not be claimed again.
	ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), d.cfg.Lease/2)
	defer cancel()
	attrs := []slog.Attr{slog.String("id", m.ID), slog.String("kind", string(m.Kind)), slog.Int("attempt", m.Attempts)}
	if sendErr == nil {
		d.Metrics.Sent.Add(1)
		if err := d.cfg.Outbox.MarkSent(ctx, m.ID, m.Lease); err != nil {
			// Sent, but the lease was lost or the store failed: the message
			// may go out again once the lease ends.
			d.log.LogAttrs(ctx, slog.LevelError, "mail: sent but not recorded", append(attrs, slog.Any("error", err))...)
			return fmt.Errorf("mail: dispatch %s: %w", m.ID, err)
		}
		return nil
	}
	reason := sendErr.Error()
	attrs = append(attrs, slog.String("error", reason))
	var next time.Time
	if !errors.Is(sendErr, ErrRejected) && m.Attempts < d.cfg.MaxAttempts {
		next = d.cfg.Now().Add(d.Backoff(m.Attempts))
		d.Metrics.Retried.Add(1)
		d.log.LogAttrs(ctx, slog.LevelWarn, "mail: send failed, will retry", append(attrs, slog.Time("next", next))...)
	} else {
		d.Metrics.Failed.Add(1)
		d.log.LogAttrs(ctx, slog.LevelError, "mail: send failed, giving up", attrs...)
	}
	if err := d.cfg.Outbox.MarkFailed(ctx, m.ID, m.Lease, next, reason); err != nil {
		return fmt.Errorf("mail: dispatch %s: %w", m.ID, err)
	}
	return nil
}

// Backoff returns the wait after failed attempt n (1-based): half of
// min(MinBackoff·2^(n-1), MaxBackoff) plus a random part of the other half.
func (d *Dispatcher) Backoff(n int) time.Duration {
	full := d.cfg.MaxBackoff
	if n < 1 {
		n = 1
	}
	if n <= 40 {
		if b := d.cfg.MinBackoff << (n - 1); b > 0 && b < full {
			full = b
		}
	}
	half := full / 2
	return half + time.Duration(d.cfg.Jitter()*float64(full-half))
}

// Run sends due messages until ctx ends or Close is called: one batch after
// another while there is work, then every Interval or at once after
// Enqueue. Outbox errors are logged and retried at the next tick. It returns
// nil after Close, ctx.Err() after ctx ends.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.running.Add(1)
	defer d.running.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-d.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	for {
		n, err := d.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.LogAttrs(ctx, slog.LevelError, "mail: dispatch", slog.Any("error", err))
		}
		if n == d.cfg.Batch && err == nil {
			continue // more may be due
		}
		select {
		case <-ctx.Done():
			select {
			case <-d.done:
				return nil
			default:
				return ctx.Err()
			}
		case <-d.wake:
		case <-t.C:
		}
	}
}

// Close stops Run and waits for it to return; a message in flight is
// finished first only as far as the relay answers before the cut. Close is
// idempotent.
func (d *Dispatcher) Close() error {
	d.closeOnce.Do(func() { close(d.done) })
	d.running.Wait()
	return nil
}
