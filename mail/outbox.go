package mail

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Outbox is the durable queue of messages waiting for the relay. The
// Dispatcher is its consumer; memory, SQLite and PostgreSQL implement it, and
// mailtest.RunOutbox holds each to the same rules. Every method is safe for
// concurrent use, also by several processes sharing one store.
type Outbox interface {
	// Enqueue stores m (ID, To, content, CreatedAt, NotBefore) as pending.
	// Enqueueing an ID that is already stored changes nothing and succeeds,
	// so a caller may retry after a timeout.
	Enqueue(ctx context.Context, m *Message) error
	// Claim returns up to max pending messages due at now (NotBefore <=
	// now) that no live lease holds, oldest due first, each under a new
	// lease that ends at now+lease, with Attempts counted up by one. Two
	// concurrent claims never return the same message.
	Claim(ctx context.Context, now time.Time, lease time.Duration, max int) ([]*Message, error)
	// MarkSent records that the relay accepted the message claimed under
	// lease: it is never claimed again, and its body is dropped. It
	// returns ErrLeaseLost when lease does not hold the message.
	MarkSent(ctx context.Context, id, lease string) error
	// MarkFailed ends the claim after a failed attempt: the message is due
	// again at next, or, with a zero next, given up for good (kept, with
	// reason, and never claimed again). reason is recorded and must not
	// hold secrets. It returns ErrLeaseLost when lease does not hold the
	// message.
	MarkFailed(ctx context.Context, id, lease string, next time.Time, reason string) error
	// Pending counts the messages neither sent nor given up: the queue
	// depth.
	Pending(ctx context.Context) (int, error)
}

// Status is a message's state in an outbox.
type Status string

// The states of a stored message.
const (
	StatusPending Status = "pending"
	StatusSent    Status = "sent"
	StatusFailed  Status = "failed" // given up
)

// Record is a stored message with its state, as MemoryOutbox.Records shows it.
type Record struct {
	Message
	Status     Status
	LeaseUntil time.Time
	LastError  string
}

// MemoryOutbox is an Outbox in process memory, for tests and single-process
// embedding: what it holds ends with the process. The zero value is not
// usable; call NewMemoryOutbox. It is safe for concurrent use.
type MemoryOutbox struct {
	mu   sync.Mutex
	recs map[string]*Record
}

var _ Outbox = (*MemoryOutbox)(nil)

// NewMemoryOutbox returns an empty in-memory outbox.
func NewMemoryOutbox() *MemoryOutbox {
	return &MemoryOutbox{recs: map[string]*Record{}}
}

// Enqueue implements Outbox.
func (o *MemoryOutbox) Enqueue(ctx context.Context, m *Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mail: enqueue: %w", err)
	}
	if m.ID == "" {
		return fmt.Errorf("mail: enqueue: empty id: %w", ErrInvalidMessage)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.recs[m.ID]; ok {
		return nil
	}
	c := *m
	c.Attempts, c.Lease = 0, ""
	o.recs[m.ID] = &Record{Message: c, Status: StatusPending}
	return nil
}

// Claim implements Outbox.
func (o *MemoryOutbox) Claim(ctx context.Context, now time.Time, lease time.Duration, max int) ([]*Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("mail: claim: %w", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var due []*Record
	for _, r := range o.recs {
		if r.Status == StatusPending && !r.NotBefore.After(now) && !r.LeaseUntil.After(now) {
			due = append(due, r)
		}
	}
	slices.SortFunc(due, func(a, b *Record) int {
		if c := a.NotBefore.Compare(b.NotBefore); c != 0 {
			return c
		}
		return a.CreatedAt.Compare(b.CreatedAt)
	})
	if len(due) > max {
		due = due[:max]
	}
	out := make([]*Message, 0, len(due))
	for _, r := range due {
		r.Attempts++
		r.Lease = newID()
		r.LeaseUntil = now.Add(lease)
		c := r.Message
		out = append(out, &c)
	}
	return out, nil
}

// finish applies f to the record id if lease holds it, under the lock.
func (o *MemoryOutbox) finish(ctx context.Context, op, id, lease string, f func(r *Record)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mail: %s: %w", op, err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	r, ok := o.recs[id]
	if !ok || r.Status != StatusPending || lease == "" || r.Lease != lease {
		return fmt.Errorf("mail: %s: %w", op, ErrLeaseLost)
	}
	r.Lease, r.LeaseUntil = "", time.Time{}
	f(r)
	return nil
}

// MarkSent implements Outbox.
func (o *MemoryOutbox) MarkSent(ctx context.Context, id, lease string) error {
	return o.finish(ctx, "mark sent", id, lease, func(r *Record) {
		r.Status = StatusSent
		r.Subject, r.Text, r.HTML = "", "", ""
	})
}

// MarkFailed implements Outbox.
func (o *MemoryOutbox) MarkFailed(ctx context.Context, id, lease string, next time.Time, reason string) error {
	return o.finish(ctx, "mark failed", id, lease, func(r *Record) {
		r.LastError = reason
		if next.IsZero() {
			r.Status = StatusFailed
			r.Subject, r.Text, r.HTML = "", "", ""
			return
		}
		r.NotBefore = next
	})
}

// Pending implements Outbox.
func (o *MemoryOutbox) Pending(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("mail: pending: %w", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, r := range o.recs {
		if r.Status == StatusPending {
			n++
		}
	}
	return n, nil
}

// Records returns a copy of every stored message with its state, oldest
// first: for tests and diagnostics.
func (o *MemoryOutbox) Records() []Record {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]Record, 0, len(o.recs))
	for _, r := range o.recs {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Record) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out
}
