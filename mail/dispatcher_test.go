package mail_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/sessiond/sessiond/mail"
	"github.com/sessiond/sessiond/mail/mailtest"
)

// clock is a settable clock for the dispatcher.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	outbox *mail.MemoryOutbox
	clock  *clock
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newFixture() *fixture {
	return &fixture{outbox: mail.NewMemoryOutbox(), clock: newClock(), logs: &syncBuffer{}}
}

// dispatcher returns a new Dispatcher on the fixture's outbox and clock,
// sending to the relay at host:port in clear text (loopback).
func (f *fixture) dispatcher(t *testing.T, host string, port int, tweak func(*mail.DispatcherConfig)) *mail.Dispatcher {
	t.Helper()
	cfg := mail.DispatcherConfig{
		Outbox: f.outbox, Sender: newSMTP(t, mail.SMTPConfig{Host: host, Port: port, TLS: mail.TLSNone, Timeout: 10 * time.Second}),
		Logger: slog.New(slog.NewTextHandler(f.logs, nil)), Now: f.clock.Now,
		Jitter: func() float64 { return 0.5 }, MinBackoff: time.Minute, MaxBackoff: time.Hour, MaxAttempts: 5,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	d, err := mail.NewDispatcher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func runOnce(t *testing.T, d *mail.Dispatcher) int {
	t.Helper()
	n, err := d.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("run once: %v", err)
	}
	return n
}

func depth(t *testing.T, d *mail.Dispatcher) int {
	t.Helper()
	n, err := d.QueueDepth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDispatcher_RelayDownThenUp_DeliveredOnce(t *testing.T) {
	t.Parallel()
	f := newFixture()
	addr := freeAddr(t)
	host, port := splitAddr(t, addr)
	d := f.dispatcher(t, host, port, nil)
	if err := d.Enqueue(context.Background(), sample(t, "")); err != nil {
		t.Fatal(err)
	}
	if n := runOnce(t, d); n != 1 {
		t.Fatalf("claimed %d, want 1", n)
	}
	if d.Metrics.Retried.Load() != 1 || depth(t, d) != 1 {
		t.Fatalf("relay down: retried %d, depth %d; want 1 and 1", d.Metrics.Retried.Load(), depth(t, d))
	}
	r := startRelay(t, relayOpts{addr: addr})
	if n := runOnce(t, d); n != 0 {
		t.Fatalf("claimed %d before the backoff ended", n)
	}
	f.clock.Add(time.Minute)
	for range 3 { // later rounds must find nothing left to send
		runOnce(t, d)
		f.clock.Add(time.Hour)
	}
	if got := r.messages(); len(got) != 1 {
		t.Fatalf("relay got %d messages, want exactly 1", len(got))
	}
	if d.Metrics.Sent.Load() != 1 || depth(t, d) != 0 {
		t.Fatalf("sent %d, depth %d; want 1 and 0", d.Metrics.Sent.Load(), depth(t, d))
	}
}

func TestDispatcher_RestartedStillDelivers(t *testing.T) {
	t.Parallel()
	r := startRelay(t, relayOpts{})
	f := newFixture()
	ctx := context.Background()

	// The first process accepts two messages; it crashes before sending the
	// first and after claiming the second (its lease is still held).
	first := f.dispatcher(t, r.host, r.port, nil)
	for _, id := range []string{"restart-a", "restart-b"} {
		if err := first.Enqueue(ctx, sample(t, id)); err != nil {
			t.Fatal(err)
		}
		f.clock.Add(time.Second)
	}
	if _, err := f.outbox.Claim(ctx, f.clock.Now(), 2*time.Minute, 1); err != nil { // what the crashed process held
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	second := f.dispatcher(t, r.host, r.port, nil)
	runOnce(t, second)
	if got := r.byMessageID(); len(got) != 1 || got["<restart-b@auth.example.com>"] != 1 {
		t.Fatalf("after restart: %v, want restart-b only (restart-a is leased)", got)
	}
	f.clock.Add(2 * time.Minute) // the crashed process's lease ends
	runOnce(t, second)
	runOnce(t, second)
	if got := r.byMessageID(); len(got) != 2 || got["<restart-a@auth.example.com>"] != 1 || got["<restart-b@auth.example.com>"] != 1 {
		t.Fatalf("after the lease ended: %v, want each once", got)
	}
}

func TestDispatcher_TwoInParallelSendEachOnce(t *testing.T) {
	t.Parallel()
	r := startRelay(t, relayOpts{})
	f := newFixture()
	const n = 40
	ds := []*mail.Dispatcher{
		f.dispatcher(t, r.host, r.port, func(c *mail.DispatcherConfig) { c.Batch = 3 }),
		f.dispatcher(t, r.host, r.port, func(c *mail.DispatcherConfig) { c.Batch = 3 }),
	}
	for i := range n {
		if err := ds[i%2].Enqueue(context.Background(), sample(t, fmt.Sprintf("par-%02d", i))); err != nil {
			t.Fatal(err)
		}
	}
	mailtest.Drain(t, ds...)
	got := r.byMessageID()
	if len(got) != n {
		t.Fatalf("relay got %d distinct messages, want %d", len(got), n)
	}
	for id, c := range got {
		if c != 1 {
			t.Errorf("%s delivered %d times", id, c)
		}
	}
	if s := ds[0].Metrics.Sent.Load() + ds[1].Metrics.Sent.Load(); s != n {
		t.Fatalf("sent counters sum to %d, want %d", s, n)
	}
}

func TestDispatcher_TemporaryAnswerRetries(t *testing.T) {
	t.Parallel()
	r := startRelay(t, relayOpts{})
	f := newFixture()
	d := f.dispatcher(t, r.host, r.port, nil)
	r.setAnswer(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"})
	if err := d.Enqueue(context.Background(), sample(t, "temp")); err != nil {
		t.Fatal(err)
	}
	runOnce(t, d)
	rec := f.outbox.Records()[0]
	if rec.Status != mail.StatusPending || !rec.NotBefore.Equal(f.clock.Now().Add(45*time.Second)) || !strings.Contains(rec.LastError, "451") {
		t.Fatalf("after 451: %+v; want pending, due in 45s (min backoff 1m, jitter half), error recorded", rec)
	}
	r.setAnswer(nil)
	f.clock.Add(45 * time.Second)
	runOnce(t, d)
	if len(r.messages()) != 1 || d.Metrics.Retried.Load() != 1 || d.Metrics.Sent.Load() != 1 || d.Metrics.Failed.Load() != 0 {
		t.Fatalf("relay got %d; retried %d sent %d failed %d", len(r.messages()), d.Metrics.Retried.Load(), d.Metrics.Sent.Load(), d.Metrics.Failed.Load())
	}
}

func TestDispatcher_PermanentAnswerGivesUp(t *testing.T) {
	t.Parallel()
	r := startRelay(t, relayOpts{})
	f := newFixture()
	d := f.dispatcher(t, r.host, r.port, nil)
	r.setAnswer(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"})
	if err := d.Enqueue(context.Background(), sample(t, "perm")); err != nil {
		t.Fatal(err)
	}
	runOnce(t, d)
	r.setAnswer(nil)
	f.clock.Add(48 * time.Hour)
	if n := runOnce(t, d); n != 0 {
		t.Fatalf("a refused message was claimed again")
	}
	rec := f.outbox.Records()[0]
	if rec.Status != mail.StatusFailed || rec.Attempts != 1 || !strings.Contains(rec.LastError, "550") || rec.Text != "" {
		t.Fatalf("record %+v: want failed after 1 attempt, 550 recorded, body dropped", rec)
	}
	if d.Metrics.Failed.Load() != 1 || d.Metrics.Retried.Load() != 0 || len(r.messages()) != 0 {
		t.Fatalf("failed %d retried %d delivered %d", d.Metrics.Failed.Load(), d.Metrics.Retried.Load(), len(r.messages()))
	}
}

func TestDispatcher_GivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	f := newFixture()
	host, port := splitAddr(t, freeAddr(t)) // the relay never comes up
	d := f.dispatcher(t, host, port, func(c *mail.DispatcherConfig) { c.MaxAttempts = 3 })
	if err := d.Enqueue(context.Background(), sample(t, "max")); err != nil {
		t.Fatal(err)
	}
	for range 6 {
		runOnce(t, d)
		f.clock.Add(2 * time.Hour)
	}
	rec := f.outbox.Records()[0]
	if rec.Status != mail.StatusFailed || rec.Attempts != 3 {
		t.Fatalf("record %+v: want given up after 3 attempts", rec)
	}
	if d.Metrics.Retried.Load() != 2 || d.Metrics.Failed.Load() != 1 || depth(t, d) != 0 {
		t.Fatalf("retried %d failed %d depth %d; want 2, 1, 0", d.Metrics.Retried.Load(), d.Metrics.Failed.Load(), depth(t, d))
	}
	if !strings.Contains(f.logs.String(), "giving up") {
		t.Fatalf("give-up not logged:\n%s", f.logs.String())
	}
}

func TestDispatcher_BackoffDoublesWithJitterAndCap(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		jitter   float64
		attempt  int
		min, max time.Duration
	}{
		{0, 1, 30 * time.Second, 30 * time.Second},
		{0.999999, 1, 59 * time.Second, time.Minute},
		{0, 3, 2 * time.Minute, 2 * time.Minute},
		{0.999999, 3, 239 * time.Second, 4 * time.Minute},
		{0, 7, 30 * time.Minute, 30 * time.Minute}, // 64m capped at 1h
		{0, 30, 30 * time.Minute, 30 * time.Minute},
		{0.999999, 30, 59 * time.Minute, time.Hour},
		{0.999999, 1000, 59 * time.Minute, time.Hour}, // no overflow
	} {
		d, err := mail.NewDispatcher(mail.DispatcherConfig{Outbox: mail.NewMemoryOutbox(), Sender: &mail.Log{},
			Jitter: func() float64 { return c.jitter }, MinBackoff: time.Minute, MaxBackoff: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if b := d.Backoff(c.attempt); b < c.min || b > c.max {
			t.Errorf("attempt %d jitter %v: %v, want in [%v, %v]", c.attempt, c.jitter, b, c.min, c.max)
		}
	}
}

func TestDispatcher_RunDeliversAndCloseStops(t *testing.T) {
	t.Parallel()
	r := startRelay(t, relayOpts{})
	f := newFixture()
	// A real clock and a long interval: only Enqueue's wake-up can send in time.
	d := f.dispatcher(t, r.host, r.port, func(c *mail.DispatcherConfig) { c.Now = nil; c.Interval = time.Hour })
	done := make(chan error, 1)
	go func() { done <- d.Run(context.Background()) }()
	if err := d.Enqueue(context.Background(), sample(t, "run")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(r.messages()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(r.messages()) != 1 {
		t.Fatalf("relay got %d messages after Enqueue, want 1", len(r.messages()))
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run after Close: %v, want nil", err)
	}
}

func TestDispatcher_LogsNoSecrets(t *testing.T) {
	t.Parallel()
	srvTLS, cliTLS := selfSigned(t)
	r := startRelay(t, relayOpts{tls: srvTLS, user: "app", pass: "the-right-one"})
	f := newFixture()
	d := f.dispatcher(t, r.host, r.port, func(c *mail.DispatcherConfig) {
		c.Sender = newSMTP(t, mail.SMTPConfig{Host: r.host, Port: r.port, TLSConfig: cliTLS, Username: "app", Password: secretPassword})
	})
	if err := d.Enqueue(context.Background(), sample(t, "secret")); err != nil {
		t.Fatal(err)
	}
	runOnce(t, d)
	logs := f.logs.String()
	if !strings.Contains(logs, "will retry") {
		t.Fatalf("failure not logged:\n%s", logs)
	}
	for _, secret := range []string{secretPassword, "SAMPLE-TOKEN"} {
		if strings.Contains(logs, secret) || strings.Contains(f.outbox.Records()[0].LastError, secret) {
			t.Errorf("a log line or the recorded error holds %q:\n%s", secret, logs)
		}
	}
}

func TestDispatcher_EnqueueRefusesInvalidMessages(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d := f.dispatcher(t, "127.0.0.1", 25, nil)
	for _, m := range []*mail.Message{
		{To: "Ada <ada@example.com>", Subject: "s", Text: "t"},
		{To: "ada@example.com, eve@example.com", Subject: "s", Text: "t"},
		{To: "ada@example.com", Subject: "s\r\nBcc: eve@example.com", Text: "t"},
		{To: "ada@example.com", Subject: "s"},
	} {
		if err := d.Enqueue(context.Background(), m); err == nil {
			t.Errorf("%+v: accepted", m)
		}
	}
	if depth(t, d) != 0 {
		t.Fatal("an invalid message was queued")
	}
}
