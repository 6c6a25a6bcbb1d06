package session_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memstore"
	"github.com/sessiond/sessiond/store/sqlitestore"
)

func benchLoad(b *testing.B, st session.Backend) {
	ctx := context.Background()
	mgr, err := session.NewManager(session.Config{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	_, tok, err := mgr.Create(ctx, "bench-user", session.Meta{IP: "127.0.0.1", UserAgent: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := mgr.Load(ctx, tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkManagerLoad measures a session lookup through the Manager: token
// parse, SHA-256, store read, constant-time compare, expiry check (the touch
// write is throttled to once a minute, so not in the loop). "sqlite" is a
// near-cache hit (the hot path); "sqlite-nocache" the database read.
//
// Budget (allocs/op): memory 16, sqlite 15, sqlite-nocache 75 (enforced by
// TestAllocBudgets).
func BenchmarkManagerLoad(b *testing.B) {
	b.Run("memory", func(b *testing.B) { benchLoad(b, memstore.New(nil)) })
	b.Run("sqlite-nocache", func(b *testing.B) {
		st, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "b.db"), sqlitestore.Options{CacheEntries: -1})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchLoad(b, st)
	})
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "b.db"), sqlitestore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchLoad(b, st)
	})
}

// BenchmarkManagerCreate measures creating a session (a durable write on
// SQLite: WAL with synchronous=FULL).
func BenchmarkManagerCreate(b *testing.B) {
	for name, open := range map[string]func(b *testing.B) session.Backend{
		"memory": func(*testing.B) session.Backend { return memstore.New(nil) },
		"sqlite": func(b *testing.B) session.Backend {
			st, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "b.db"), sqlitestore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			return st
		},
	} {
		b.Run(name, func(b *testing.B) {
			mgr, _ := session.NewManager(session.Config{Store: open(b)})
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := mgr.Create(ctx, "bench-user", session.Meta{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseToken is the cookie value's check and hash: shape, strict
// base64url, SHA-256. Budget: 3 allocs/op.
func BenchmarkParseToken(b *testing.B) {
	tok, err := session.NewToken(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := session.ParseToken(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCookieToken reads the session cookie from a request carrying
// three other cookies. Budget: 2 allocs/op.
func BenchmarkCookieToken(b *testing.B) {
	mgr, err := session.NewManager(session.Config{Store: memstore.New(nil)})
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := session.NewToken(nil)
	r := httptest.NewRequest(http.MethodGet, "/v1/whoami", nil)
	r.Header.Set("Cookie", "_ga=GA1.2.3; theme=dark; sessiond="+tok+"; lang=en")
	b.ReportAllocs()
	for b.Loop() {
		if mgr.CookieToken(r) != tok {
			b.Fatal("cookie not found")
		}
	}
}
