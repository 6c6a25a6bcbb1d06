// Package mailtest is the conformance suite every mail.Outbox runs: the
// memory outbox here and the SQLite and PostgreSQL ones in the stores. A
// backend's test calls RunOutbox with a constructor for a fresh, empty
// outbox; the same claim, lease and single-send rules then hold for each.
package mailtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/mail"
)

// t0 is the suite's clock origin; stores must keep times to the millisecond.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func message(n int, due time.Time) *mail.Message {
	return &mail.Message{
		ID: fmt.Sprintf("mailtest-%04d", n), Kind: mail.KindVerifyEmail, To: fmt.Sprintf("user%d@example.com", n),
		Subject: "Confirm ☕", Text: "Open https://auth.example.com/v?token=abc\n", HTML: "<p>Open <a href=\"https://auth.example.com/v?token=abc\">it</a></p>",
		CreatedAt: due.Add(-time.Minute), NotBefore: due,
	}
}

func enqueue(t *testing.T, o mail.Outbox, ms ...*mail.Message) {
	t.Helper()
	for _, m := range ms {
		if err := o.Enqueue(context.Background(), m); err != nil {
			t.Fatalf("enqueue %s: %v", m.ID, err)
		}
	}
}

func claim(t *testing.T, o mail.Outbox, now time.Time, max int) []*mail.Message {
	t.Helper()
	ms, err := o.Claim(context.Background(), now, time.Minute, max)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	return ms
}

func pending(t *testing.T, o mail.Outbox) int {
	t.Helper()
	n, err := o.Pending(context.Background())
	if err != nil {
		t.Fatalf("pending: %v", err)
	}
	return n
}

// RunOutbox runs the outbox conformance suite. newOutbox is called once per
// subtest and must return a fresh, empty outbox (Claim takes any due message,
// so outboxes cannot be shared between subtests).
func RunOutbox(t *testing.T, newOutbox func(t *testing.T) mail.Outbox) {
	ctx := context.Background()

	t.Run("ClaimRoundTripsEveryField", func(t *testing.T) {
		t.Parallel()
		o := newOutbox(t)
		want := message(1, t0)
		enqueue(t, o, want)
		got := claim(t, o, t0, 10)
		if len(got) != 1 {
			t.Fatalf("claimed %d, want 1", len(got))
		}
		g := got[0]
		if g.ID != want.ID || g.Kind != want.Kind || g.To != want.To || g.Subject != want.Subject ||
			g.Text != want.Text || g.HTML != want.HTML || !g.CreatedAt.Equal(want.CreatedAt) || !g.NotBefore.Equal(want.NotBefore) {
			t.Fatalf("claimed %+v, want %+v", g, want)
		}
		if g.Attempts != 1 || g.Lease == "" {
			t.Fatalf("attempts %d lease %q: want 1 and a lease", g.Attempts, g.Lease)
		}
	})

	t.Run("EnqueueSameIDTwiceKeepsOne", func(t *testing.T) {
		t.Parallel()
		o := newOutbox(t)
		m := message(1, t0)
		enqueue(t, o, m, message(1, t0))
		if n := pending(t, o); n != 1 {
			t.Fatalf("pending %d after enqueueing one ID twice, want 1", n)
		}
	})

	t.Run("NotDueIsNotClaimed", func(t *testing.T) {
		t.Parallel()
		o := newOutbox(t)
		enqueue(t, o, message(1, t0.Add(time.Hour)))
		if got := claim(t, o, t0, 10); len(got) != 0 {
			t.Fatalf("claimed %d messages due in an hour", len(got))
		}
		if got := claim(t, o, t0.Add(time.Hour), 10); len(got) != 1 {
			t.Fatalf("claimed %d when due, want 1", len(got))
		}
	})

	t.Run("ClaimIsOldestDueFirstAndRespectsMax", func(t *testing.T) {
		t.Parallel()
		o := newOutbox(t)
		enqueue(t, o, message(3, t0.Add(-time.Second)), message(1, t0.Add(-3*time.Second)), message(2, t0.Add(-2*time.Second)))
		got := claim(t, o, t0, 2)
		if len(got) != 2 || got[0].ID != "mailtest-0001" || got[1].ID != "mailtest-0002" {
			t.Fatalf("claimed %v, want mailtest-0001, mailtest-0002", ids(got))
		}
		if got := claim(t, o, t0, 2); len(got) != 1 || got[0].ID != "mailtest-0003" {
			t.Fatalf("second claim %v, want mailtest-0003", ids(got))
		}
	})

	t.Run("LeaseHoldsUntilItEnds", func(t *testing.T) {
		t.Parallel()
		o := newOutbox(t)
		enqueue(t, o, message(1, t0))
		first := claim(t, o, t0, 10)
		if got := claim(t, o, t0.Add(59*time.Second), 10); len(got) != 0 {
			t.Fatalf("a leased message was claimed again within its lease")
		}
		second := claim(t, o, t0.Add(time.Minute), 10)
		if len(first) != 1 || len(second) != 1 {
			t.Fatalf("claims %d then %d, want 1 and 1 after the lease ended", len(first), len(second))
		}
		if second[0].Attempts != 2 || second[0].Lease == first[0].Lease {
			t.Fatalf("reclaim: attempts %d (want 2), lease reused %v", second[0].Attempts, second[0].Lease == first[0].Lease)
		}
		if err := o.MarkSent(ctx, first[0].ID, first[0].Lease); !errors.Is(err, mail.ErrLeaseLost) {
			t.Fatalf("mark sent with the lost lease: %v, want ErrLeaseLost", err)
		}
		if err := o.MarkSent(ctx, second[0].ID, second[0].Lease); err != nil {
			t.Fatalf("mark sent with the live lease: %v", err)
		}
	})

	t.Run("ConcurrentClaimsNeverShareAMessage", func(t *testing.T) {
		t.Parallel()
		o := newOutbox(t)
		const n = 30
		for i := range n {
			enqueue(t, o, message(i, t0))
		}
		var (
			mu   sync.Mutex
			seen = map[string]int{}
			wg   sync.WaitGroup
		)
		for range 16 {
			wg.Go(func() {
				ms, err := o.Claim(ctx, t0, time.Minute, 3)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				for _, m := range ms {
					seen[m.ID]++
				}
			})
		}
		wg.Wait()
		if len(seen) != n {
			t.Fatalf("%d distinct messages claimed, want %d", len(seen), n)
		}
		for id, c := range seen {
			if c != 1 {
				t.Fatalf("%s claimed %d times at once", id, c)
			}
		}
	})

	t.Run("SentIsNeverClaimedAgain", func(t *testing.T) {
		t.Parallel()
		o := newOutbox(t)
		enqueue(t, o, message(1, t0))
		m := claim(t, o, t0, 10)[0]
		if err := o.MarkSent(ctx, m.ID, m.Lease); err != nil {
			t.Fatal(err)
		}
		if got := claim(t, o, t0.Add(24*time.Hour), 10); len(got) != 0 {
			t.Fatalf("a sent message was claimed again")
		}
		if n := pending(t, o); n != 0 {
			t.Fatalf("pending %d after send, want 0", n)
		}
		if err := o.MarkSent(ctx, m.ID, m.Lease); !errors.Is(err, mail.ErrLeaseLost) {
			t.Fatalf("second mark sent: %v, want ErrLeaseLost", err)
		}
		enqueue(t, o, message(1, t0)) // a retried enqueue of the same ID must not send it again
		if got := claim(t, o, t0.Add(24*time.Hour), 10); len(got) != 0 {
			t.Fatalf("re-enqueueing a sent ID made it claimable again")
		}
	})

	t.Run("FailedIsDueAgainAtNext", func(t *testing.T) {
		t.Parallel()
		o := newOutbox(t)
		enqueue(t, o, message(1, t0))
		m := claim(t, o, t0, 10)[0]
		next := t0.Add(10 * time.Minute)
		if err := o.MarkFailed(ctx, m.ID, m.Lease, next, "451 try later"); err != nil {
			t.Fatal(err)
		}
		if got := claim(t, o, next.Add(-time.Second), 10); len(got) != 0 {
			t.Fatalf("claimed before its next attempt")
		}
		got := claim(t, o, next, 10)
		if len(got) != 1 || got[0].Attempts != 2 || got[0].Text != m.Text {
			t.Fatalf("at next: %v, want the message again with attempt 2 and its body", ids(got))
		}
		if n := pending(t, o); n != 1 {
			t.Fatalf("pending %d, want 1", n)
		}
	})

	t.Run("GivenUpIsNeverClaimedAgain", func(t *testing.T) {
		t.Parallel()
		o := newOutbox(t)
		enqueue(t, o, message(1, t0), message(2, t0))
		m := claim(t, o, t0, 1)[0]
		if err := o.MarkFailed(ctx, m.ID, m.Lease, time.Time{}, "550 no such user"); err != nil {
			t.Fatal(err)
		}
		if got := claim(t, o, t0.Add(24*time.Hour), 10); len(got) != 1 || got[0].ID == m.ID {
			t.Fatalf("after giving up %s: claimed %v", m.ID, ids(got))
		}
		if err := o.MarkFailed(ctx, m.ID, m.Lease, t0, "again"); !errors.Is(err, mail.ErrLeaseLost) {
			t.Fatalf("mark failed after give-up: %v, want ErrLeaseLost", err)
		}
	})

	t.Run("UnknownOrWrongLeaseIsLeaseLost", func(t *testing.T) {
		t.Parallel()
		o := newOutbox(t)
		enqueue(t, o, message(1, t0))
		m := claim(t, o, t0, 10)[0]
		for _, c := range []struct{ id, lease string }{{"nope", m.Lease}, {m.ID, "not-the-lease"}, {m.ID, ""}} {
			if err := o.MarkSent(ctx, c.id, c.lease); !errors.Is(err, mail.ErrLeaseLost) {
				t.Errorf("mark sent %q/%q: %v, want ErrLeaseLost", c.id, c.lease, err)
			}
			if err := o.MarkFailed(ctx, c.id, c.lease, t0, "x"); !errors.Is(err, mail.ErrLeaseLost) {
				t.Errorf("mark failed %q/%q: %v, want ErrLeaseLost", c.id, c.lease, err)
			}
		}
	})

	t.Run("CancelledContextFails", func(t *testing.T) {
		t.Parallel()
		o := newOutbox(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := o.Enqueue(cctx, message(1, t0)); !errors.Is(err, context.Canceled) {
			t.Errorf("enqueue: %v, want context.Canceled", err)
		}
		if _, err := o.Claim(cctx, t0, time.Minute, 1); !errors.Is(err, context.Canceled) {
			t.Errorf("claim: %v, want context.Canceled", err)
		}
		if _, err := o.Pending(cctx); !errors.Is(err, context.Canceled) {
			t.Errorf("pending: %v, want context.Canceled", err)
		}
	})
}

func ids(ms []*mail.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// Drain runs the dispatchers at once, each calling RunOnce until a call
// claims nothing, and returns when all have stopped: a parallel burst of
// dispatchers on one outbox (several nodes sharing a store). Outbox errors
// fail t.
func Drain(t *testing.T, ds ...*mail.Dispatcher) {
	t.Helper()
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, d := range ds {
		wg.Go(func() {
			<-start
			for {
				k, err := d.RunOnce(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if k == 0 {
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
}
