package sqlitestore_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/mail"
	"github.com/sessiond/sessiond/mail/mailtest"
	"github.com/sessiond/sessiond/store/sqlitestore"
	"github.com/sessiond/sessiond/store/storetest"
)

func TestConformanceAccountTokens(t *testing.T) {
	storetest.RunAccountTokens(t, func(t *testing.T) account.TokenStore { return open(t) })
}

func TestConformanceLifecycle(t *testing.T) {
	storetest.RunLifecycle(t, func(t *testing.T) storetest.LifecycleStore { return open(t) })
}

func TestConformanceOutbox(t *testing.T) {
	mailtest.RunOutbox(t, func(t *testing.T) mail.Outbox { return open(t).Outbox() })
}

// Issue 16: a message accepted by the outbox is still there, pending, after
// sessiond restarts (the file is reopened), and is then sent once.
func TestOutbox_SurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	st, err := sqlitestore.Open(ctx, path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := &mail.Message{ID: "restart-1", Kind: mail.KindPasswordRecovery, To: "a@example.com", Subject: "Reset",
		Text: "link\n", CreatedAt: now, NotBefore: now}
	if err := st.Outbox().Enqueue(ctx, m); err != nil {
		t.Fatal(err)
	}
	// A claim in flight when the process dies: its lease runs out and the
	// message is due again after the restart.
	if got, err := st.Outbox().Claim(ctx, now, time.Minute, 10); err != nil || len(got) != 1 {
		t.Fatalf("claim before the restart: %d, %v", len(got), err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st, err = sqlitestore.Open(ctx, path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	o := st.Outbox()
	if n, err := o.Pending(ctx); err != nil || n != 1 {
		t.Fatalf("pending after restart: %d, %v; want 1", n, err)
	}
	got, err := o.Claim(ctx, now.Add(time.Minute), time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].Text != m.Text || got[0].Attempts != 2 {
		t.Fatalf("claim after restart: %+v, %v; want the message, attempt 2", got, err)
	}
	if err := o.MarkSent(ctx, got[0].ID, got[0].Lease); err != nil {
		t.Fatal(err)
	}
	if n, _ := o.Pending(ctx); n != 0 {
		t.Fatalf("pending %d after send", n)
	}
}

// Issue 16: users that exist when migration 00011 runs were created by an
// administrator or through single sign-on, so their email counts as
// verified since their creation; users created later start as the caller
// says.
func TestMigration00011_ExistingUsersVerified(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectSQLite3, db, os.DirFS("migrations"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 7); err != nil {
		t.Fatal(err)
	}
	created := time.Date(2029, 5, 6, 7, 8, 9, 0, time.UTC)
	if _, err := db.ExecContext(ctx, `INSERT INTO users (id, email, created_at, updated_at) VALUES ('u_old', 'old@example.com', ?, ?)`,
		created.UnixMilli(), created.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	st, err := sqlitestore.Open(ctx, path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.UserByID(ctx, "u_old")
	if err != nil {
		t.Fatal(err)
	}
	if !u.EmailVerified || !u.EmailVerifiedAt.Equal(created) {
		t.Fatalf("existing user after the migration: verified %v at %v, want true at %v", u.EmailVerified, u.EmailVerifiedAt, created)
	}
	fresh := &account.User{ID: "u_new", Email: "new@example.com", CreatedAt: created, UpdatedAt: created}
	if err := st.CreateUser(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if u, _ := st.UserByID(ctx, "u_new"); u.EmailVerified {
		t.Fatal("a user created unverified after the migration reads as verified")
	}
}
