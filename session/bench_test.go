package session_test

import (
	"context"
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
// write is throttled to once a minute, so not in the loop).
func BenchmarkManagerLoad(b *testing.B) {
	b.Run("memory", func(b *testing.B) { benchLoad(b, memstore.New(nil)) })
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
