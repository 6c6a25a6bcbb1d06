package sqlitestore

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"time"

	"github.com/sessiond/sessiond/mail"
)

// Outbox is the durable mail outbox in the SQLite file (table mail_outbox):
// a message enqueued survives a restart of sessiond and waits out a relay
// outage. Get it from Store.Outbox; it is safe for concurrent use, also by
// several processes on one file (every write goes through one immediate
// transaction on the writer connection).
type Outbox struct{ s *Store }

var _ mail.Outbox = (*Outbox)(nil)

// Outbox returns the store's mail outbox.
func (s *Store) Outbox() *Outbox { return &Outbox{s: s} }

// Enqueue implements mail.Outbox.
func (o *Outbox) Enqueue(ctx context.Context, m *mail.Message) error {
	if m.ID == "" {
		return fmt.Errorf("sqlitestore: enqueue mail: empty id: %w", mail.ErrInvalidMessage)
	}
	_, err := o.s.w.ExecContext(ctx, `INSERT INTO mail_outbox
		(id, kind, recipient, subject, text_body, html_body, created_at, not_before)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		m.ID, string(m.Kind), m.To, m.Subject, m.Text, m.HTML, ms(m.CreatedAt), ms(m.NotBefore))
	if err != nil {
		return fmt.Errorf("sqlitestore: enqueue mail: %w", err)
	}
	return nil
}

// Claim implements mail.Outbox in one UPDATE ... RETURNING: the messages it
// leases cannot be leased by a concurrent claim until the lease ends.
func (o *Outbox) Claim(ctx context.Context, now time.Time, lease time.Duration, max int) ([]*mail.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: claim mail: %w", err)
	}
	if max <= 0 {
		return nil, nil
	}
	rows, err := o.s.w.QueryContext(ctx, `UPDATE mail_outbox SET attempts = attempts + 1, lease = ?1, lease_until = ?2
		WHERE id IN (SELECT id FROM mail_outbox
			WHERE status = 'pending' AND not_before <= ?3 AND lease_until <= ?3
			ORDER BY not_before, created_at LIMIT ?4)
		RETURNING id, kind, recipient, subject, text_body, html_body, created_at, not_before, attempts, lease`,
		rand.Text(), ms(now.Add(lease)), ms(now), max)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: claim mail: %w", err)
	}
	defer rows.Close()
	var out []*mail.Message
	for rows.Next() {
		var m mail.Message
		var kind string
		var created, notBefore int64
		if err := rows.Scan(&m.ID, &kind, &m.To, &m.Subject, &m.Text, &m.HTML, &created, &notBefore, &m.Attempts, &m.Lease); err != nil {
			return nil, fmt.Errorf("sqlitestore: claim mail: %w", err)
		}
		m.Kind, m.CreatedAt, m.NotBefore = mail.Kind(kind), fromMS(created), fromMS(notBefore)
		out = append(out, &m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: claim mail: %w", err)
	}
	slices.SortFunc(out, func(a, b *mail.Message) int {
		if c := a.NotBefore.Compare(b.NotBefore); c != 0 {
			return c
		}
		return a.CreatedAt.Compare(b.CreatedAt)
	})
	return out, nil
}

// finish ends the claim of message id held under lease with set (SQL
// assignments taking args), or returns mail.ErrLeaseLost.
func (o *Outbox) finish(ctx context.Context, op, id, lease, set string, args ...any) error {
	res, err := o.s.w.ExecContext(ctx, `UPDATE mail_outbox SET lease = '', lease_until = 0, `+set+`
		WHERE id = ? AND lease = ? AND lease <> '' AND status = 'pending'`, append(args, id, lease)...)
	if err != nil {
		return fmt.Errorf("sqlitestore: %s: %w", op, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("sqlitestore: %s: %w", op, mail.ErrLeaseLost)
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
		return o.finish(ctx, "mark mail failed", id, lease, `status = 'failed', last_error = ?, `+dropContent, reason)
	}
	return o.finish(ctx, "mark mail failed", id, lease, `not_before = ?, last_error = ?`, ms(next), reason)
}

// Pending implements mail.Outbox.
func (o *Outbox) Pending(ctx context.Context) (int, error) {
	var n int
	if err := o.s.r.QueryRowContext(ctx, `SELECT count(*) FROM mail_outbox WHERE status = 'pending'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlitestore: pending mail: %w", err)
	}
	return n, nil
}
