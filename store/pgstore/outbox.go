package pgstore

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessiond/sessiond/mail"
)

// Outbox is the durable mail outbox in PostgreSQL (table mail_outbox),
// shared by every node: a message enqueued survives a restart and waits out
// a relay outage, and dispatchers on several nodes never lease one message
// at once. Get it from Store.Outbox; it is safe for concurrent use.
type Outbox struct{ s *Store }

var _ mail.Outbox = (*Outbox)(nil)

// Outbox returns the store's mail outbox.
func (s *Store) Outbox() *Outbox { return &Outbox{s: s} }

// Enqueue implements mail.Outbox.
func (o *Outbox) Enqueue(ctx context.Context, m *mail.Message) error {
	if m.ID == "" {
		return fmt.Errorf("pgstore: enqueue mail: empty id: %w", mail.ErrInvalidMessage)
	}
	_, err := o.s.pool.Exec(ctx, `INSERT INTO mail_outbox
		(id, kind, recipient, subject, text_body, html_body, created_at, not_before)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
		m.ID, string(m.Kind), m.To, m.Subject, m.Text, m.HTML, m.CreatedAt, m.NotBefore)
	if err != nil {
		return wrap(ctx, "enqueue mail", err)
	}
	return nil
}

// Claim implements mail.Outbox in one statement: the due rows are locked
// with FOR UPDATE SKIP LOCKED (a concurrent claim on any node passes them
// by) and leased before the lock is released, so the next claim sees the
// lease.
func (o *Outbox) Claim(ctx context.Context, now time.Time, lease time.Duration, max int) ([]*mail.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: claim mail: %w", err)
	}
	if max <= 0 {
		return nil, nil
	}
	rows, err := o.s.pool.Query(ctx, `WITH claimed AS (
		UPDATE mail_outbox o SET attempts = o.attempts + 1, lease = $1, lease_until = $2
		FROM (SELECT id FROM mail_outbox
			WHERE status = 'pending' AND not_before <= $3 AND (lease_until IS NULL OR lease_until <= $3)
			ORDER BY not_before, created_at LIMIT $4 FOR UPDATE SKIP LOCKED) due
		WHERE o.id = due.id
		RETURNING o.id, o.kind, o.recipient, o.subject, o.text_body, o.html_body, o.created_at, o.not_before, o.attempts, o.lease)
		SELECT * FROM claimed ORDER BY not_before, created_at`,
		rand.Text(), now.Add(lease), now, max)
	if err != nil {
		return nil, wrap(ctx, "claim mail", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*mail.Message, error) {
		var m mail.Message
		var kind string
		err := r.Scan(&m.ID, &kind, &m.To, &m.Subject, &m.Text, &m.HTML, &m.CreatedAt, &m.NotBefore, &m.Attempts, &m.Lease)
		m.Kind, m.CreatedAt, m.NotBefore = mail.Kind(kind), m.CreatedAt.UTC(), m.NotBefore.UTC()
		return &m, err
	})
	if err != nil {
		return nil, wrap(ctx, "claim mail", err)
	}
	return out, nil
}

// finish ends the claim of message id held under lease with set (SQL
// assignments whose arguments start at $3), or returns mail.ErrLeaseLost.
func (o *Outbox) finish(ctx context.Context, op, id, lease, set string, args ...any) error {
	tag, err := o.s.pool.Exec(ctx, `UPDATE mail_outbox SET lease = '', lease_until = NULL, `+set+`
		WHERE id = $1 AND lease = $2 AND lease <> '' AND status = 'pending'`, append([]any{id, lease}, args...)...)
	if err != nil {
		return wrap(ctx, op, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("pgstore: %s: %w", op, mail.ErrLeaseLost)
	}
	return nil
}

// dropContent is the assignment that empties a finished message.
const dropContent = `subject = '', text_body = '', html_body = ''`

// MarkSent implements mail.Outbox.
func (o *Outbox) MarkSent(ctx context.Context, id, lease string) error {
	return o.finish(ctx, "mark mail sent", id, lease, `status = 'sent', `+dropContent)
}

// MarkFailed implements mail.Outbox.
func (o *Outbox) MarkFailed(ctx context.Context, id, lease string, next time.Time, reason string) error {
	if next.IsZero() {
		return o.finish(ctx, "mark mail failed", id, lease, `status = 'failed', last_error = $3, `+dropContent, reason)
	}
	return o.finish(ctx, "mark mail failed", id, lease, `not_before = $3, last_error = $4`, next, reason)
}

// Pending implements mail.Outbox.
func (o *Outbox) Pending(ctx context.Context) (int, error) {
	var n int
	if err := o.s.pool.QueryRow(ctx, `SELECT count(*) FROM mail_outbox WHERE status = 'pending'`).Scan(&n); err != nil {
		return 0, wrap(ctx, "pending mail", err)
	}
	return n, nil
}
