package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessiond/sessiond/internal/app"
	"github.com/sessiond/sessiond/internal/config"
	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/refresh"
	"github.com/sessiond/sessiond/token"
)

func buildConfig(t *testing.T, flags map[string]string) *config.Config {
	t.Helper()
	flags["data"] = t.TempDir()
	cfg, err := config.Load("", nil, flags)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// SECURITY.md rule 11: private signing keys in a shared store are
// encrypted. With store.users on PostgreSQL the server refuses to start
// without token.key_encryption_key, and with one the stored keys are sealed.
func TestBuild_PostgresKeysRequireKEK(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.Postgres(t)

	_, err := app.Build(ctx, buildConfig(t, map[string]string{"store.users": dsn}), nil)
	if err == nil {
		t.Fatal("built with private keys in PostgreSQL and no key-encryption key")
	}
	for _, want := range []string{"token.key_encryption_key", "PostgreSQL", "openssl rand -base64 32"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM signing_keys").Scan(&n); err != nil || n != 0 {
		t.Fatalf("the refused start stored %d keys (%v)", n, err)
	}

	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	flags := map[string]string{"store.users": dsn, "token.key_encryption_key": base64.StdEncoding.EncodeToString(kek)}
	a, err := app.Build(ctx, buildConfig(t, flags), nil)
	if err != nil {
		t.Fatalf("build with a key-encryption key: %v", err)
	}
	defer a.Close()
	if a.Tokens == nil {
		t.Fatal("no tokens: PostgreSQL holds refresh families")
	}
	rows, err := c.Query(ctx, "SELECT id, data FROM signing_keys")
	if err != nil {
		t.Fatal(err)
	}
	n = 0
	for rows.Next() {
		var id string
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			t.Fatal(err)
		}
		n++
		if bytes.Contains(data, []byte(`"d":`)) || bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
			t.Errorf("key %s is stored in clear: %.40q...", id, data)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no signing key stored")
	}
	// Another node with the same key-encryption key loads the sealed keys.
	app2, err := app.Build(ctx, buildConfig(t, flags), nil)
	if err != nil {
		t.Fatalf("second node: %v", err)
	}
	defer app2.Close()
	if len(app2.Tokens.Keys.List()) != n {
		t.Fatalf("second node loaded %d keys, want %d", len(app2.Tokens.Keys.List()), n)
	}
}

// The embedded store is not shared: no key-encryption key is needed.
func TestBuild_SQLiteKeysNeedNoKEK(t *testing.T) {
	a, err := app.Build(context.Background(), buildConfig(t, map[string]string{}), nil)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	a.Close()
}

// Issue 13 item 7: token.leeway: 0s and token.refresh_grace: 0s mean none
// all the way to the verifier and the refresh service (they used to become
// 30s and 10s): a token expired two seconds ago is refused, and a spent
// refresh token presented again revokes its family. With the defaults both
// are accepted.
func TestBuild_ZeroLeewayAndGraceMeanNone(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		value string
		ok    bool
	}{{"0s", false}, {"", true}} {
		a, err := app.Build(ctx, buildConfig(t, map[string]string{"token.leeway": tc.value, "token.refresh_grace": tc.value}), nil)
		if err != nil {
			t.Fatalf("build: %v", err)
		}
		tok, err := a.Tokens.Issuer.Issue(ctx, token.Claims{Subject: "u1", ID: "j1", IssuedAt: time.Now().Add(-time.Minute), ExpiresAt: time.Now().Add(-2 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		_, verr := a.Tokens.Verifier.Verify(ctx, tok)
		rs := a.Tokens.Refresh
		_, rt, err := rs.Start(ctx, "u1", "app", "", refresh.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		mint := func(context.Context, *refresh.Family) (string, time.Time, error) {
			return "a", time.Now().Add(time.Minute), nil
		}
		if _, _, err := rs.Refresh(ctx, rt, mint); err != nil {
			t.Fatal(err)
		}
		_, _, rerr := rs.Refresh(ctx, rt, mint)
		a.Close()
		if (verr == nil) != tc.ok || (rerr == nil) != tc.ok {
			t.Fatalf("%q: token expired 2s ago: %v; spent refresh token again: %v; want accepted %v", tc.value, verr, rerr, tc.ok)
		}
	}
}
