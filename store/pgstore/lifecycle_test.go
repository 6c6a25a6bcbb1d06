package pgstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/mail"
	"github.com/sessiond/sessiond/mail/mailtest"
	"github.com/sessiond/sessiond/store/pgstore"
	"github.com/sessiond/sessiond/store/storetest"
)

func TestConformanceAccountTokens(t *testing.T) {
	dsn := migrated(t)
	storetest.RunAccountTokens(t, func(t *testing.T) account.TokenStore { return open(t, dsn, pgstore.Options{}) })
}

func TestConformanceLifecycle(t *testing.T) {
	dsn := migrated(t)
	storetest.RunLifecycle(t, func(t *testing.T) storetest.LifecycleStore { return open(t, dsn, pgstore.Options{}) })
}

// Claim takes any due message, so each subtest gets an empty database.
func TestConformanceOutbox(t *testing.T) {
	mailtest.RunOutbox(t, func(t *testing.T) mail.Outbox {
		return open(t, testenv.Postgres(t), pgstore.Options{Migrate: true, SweepInterval: -1}).Outbox()
	})
}

// Issue 16: two nodes' dispatchers draining one PostgreSQL outbox at once
// send every message exactly once.
func TestOutbox_TwoNodesDispatchEachMessageOnce(t *testing.T) {
	ctx := context.Background()
	dsn := migrated(t)
	var (
		mu   sync.Mutex
		sent = map[string]int{}
	)
	record := mail.SenderFunc(func(_ context.Context, m *mail.Message) error {
		mu.Lock()
		defer mu.Unlock()
		sent[m.ID]++
		return nil
	})
	var ds []*mail.Dispatcher
	for range 2 {
		d, err := mail.NewDispatcher(mail.DispatcherConfig{Outbox: open(t, dsn, pgstore.Options{SweepInterval: -1}).Outbox(),
			Sender: record, Batch: 3})
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	const n = 60
	for i := range n {
		m := &mail.Message{ID: fmt.Sprintf("node-%02d", i), Kind: mail.KindNewDevice, To: fmt.Sprintf("u%d@example.com", i),
			Subject: "New sign-in", Text: "A new device signed in.\n"}
		if err := ds[i%2].Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	mailtest.Drain(t, ds...)
	if len(sent) != n {
		t.Fatalf("%d distinct messages sent, want %d", len(sent), n)
	}
	for id, c := range sent {
		if c != 1 {
			t.Errorf("%s sent %d times", id, c)
		}
	}
	if s := ds[0].Metrics.Sent.Load() + ds[1].Metrics.Sent.Load(); s != n {
		t.Fatalf("sent counters sum to %d, want %d", s, n)
	}
	if depth, err := ds[0].QueueDepth(ctx); err != nil || depth != 0 {
		t.Fatalf("queue depth %d, %v after draining", depth, err)
	}
}

// Issue 16: users that exist when migration 00011 runs were created by an
// administrator or through single sign-on, so their email counts as
// verified since their creation.
func TestMigration00011_ExistingUsersVerified(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS("migrations"), goose.WithTableName("sessiond_goose_db_version"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 9); err != nil {
		t.Fatal(err)
	}
	created := time.Date(2029, 5, 6, 7, 8, 9, 0, time.UTC)
	if _, err := db.ExecContext(ctx, `INSERT INTO users (id, email, created_at, updated_at) VALUES ('u_old', 'old@example.com', $1, $1)`, created); err != nil {
		t.Fatal(err)
	}
	st := open(t, dsn, pgstore.Options{Migrate: true, SweepInterval: -1})
	u, err := st.UserByID(ctx, "u_old")
	if err != nil {
		t.Fatal(err)
	}
	if !u.EmailVerified || !u.EmailVerifiedAt.Equal(created) {
		t.Fatalf("existing user after the migration: verified %v at %v, want true at %v", u.EmailVerified, u.EmailVerifiedAt, created)
	}
	if err := st.CreateUser(ctx, &account.User{ID: "u_new", Email: "new@example.com", CreatedAt: created, UpdatedAt: created}); err != nil {
		t.Fatal(err)
	}
	if u, _ := st.UserByID(ctx, "u_new"); u.EmailVerified {
		t.Fatal("a user created unverified after the migration reads as verified")
	}
}
