package app_test

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/app"
	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/store/redisstore"
	"github.com/sessiond/sessiond/store/storetest"
)

// TestOpenStores_ErrorNeverLeaksPassword: a store that cannot be opened is
// named in the error (which goes to the log) without any part of its
// password, whatever the password holds. Only the URL the server prints is
// checked: with a raw "@" in the password, pgx (like libpq) ends the user
// info at the first "@" and names the rest as the host it could not
// resolve, in its own words.
func TestOpenStores_ErrorNeverLeaksPassword(t *testing.T) {
	t.Parallel()
	// A port nothing listens on: the connection is refused at once.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	tests := []struct {
		name, userinfo string
		secrets        []string
	}{
		{"@", "app:s3cr@tPW", []string{"s3cr", "tPW"}},
		{":", "app:s3cr:tPW", []string{"s3cr", "tPW"}},
		{"%40", "app:s3cr%40tPW", []string{"s3cr", "tPW"}},
		{"@ and :", "app:s3:cr@tP:W@", []string{"s3", "cr@", "tP:W"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := "postgres://" + tc.userinfo + "@" + addr + "/x?connect_timeout=5"
			_, err := app.OpenStores(context.Background(), buildConfig(t, map[string]string{"store.users": url}))
			if err == nil {
				t.Fatal("opened a store on a closed port")
			}
			named, ok := strings.CutPrefix(err.Error(), "app: open store ")
			named, _, _ = strings.Cut(named, ": pgstore: ")
			if !ok || !strings.Contains(named, addr) {
				t.Fatalf("error %q does not name the store", err)
			}
			for _, s := range tc.secrets {
				if strings.Contains(named, s) {
					t.Errorf("store named as %s: leaks %q of the password", named, s)
				}
			}
		})
	}
}

// docs/configuration.md: bolt:PATH is an older name for the embedded SQLite
// store, not a bbolt file; a configuration that names it still starts, on
// SQLite.
func TestOpenStores_BoltIsSQLite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "old.db")
	st, err := app.OpenStores(context.Background(), buildConfig(t, map[string]string{"store.users": "bolt:" + path}))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	head := make([]byte, 16)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.ReadFull(f, head); err != nil || string(head) != "SQLite format 3\x00" {
		t.Fatalf("bolt: opened %q (%v), want a SQLite file", head, err)
	}
}

// TestOpenStores_RedisSentinel: a redis+sentinel:// sessions URL opens the
// Redis store through the sentinels (docs/configuration.md), and sessions
// go to the master they name.
func TestOpenStores_RedisSentinel(t *testing.T) {
	t.Parallel()
	rs := testenv.StartRedisSentinel(t)
	st, err := app.OpenStores(context.Background(), buildConfig(t, map[string]string{
		"store.users":    "sqlite:" + filepath.Join(t.TempDir(), "u.db"),
		"store.sessions": rs.URL,
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, ok := st.Sessions.(*redisstore.Store); !ok {
		t.Fatalf("sessions store is %T, want *redisstore.Store", st.Sessions)
	}
	if err := st.Sessions.Create(context.Background(), storetest.NewSession(t, "u", time.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := rs.Master(t).Do(t, "DBSIZE"); n == "0" {
		t.Fatal("the master holds no key after a session was created")
	}
}
