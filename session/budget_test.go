//go:build !race

package session_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memstore"
	"github.com/sessiond/sessiond/store/sqlitestore"
)

// TestAllocBudgets holds the hot path to the allocation budgets written on
// its benchmarks (BenchmarkParseToken, BenchmarkManagerLoad); a change that
// allocates more per request fails here, not in a later load run. (Counts,
// not timings; skipped under -race, which allocates on its own.)
func TestAllocBudgets(t *testing.T) {
	ctx := context.Background()
	tok, _ := session.NewToken(nil)
	check := func(name string, budget float64, f func()) {
		t.Helper()
		if got := testing.AllocsPerRun(200, f); got > budget {
			t.Errorf("%s: %.0f allocs/op, budget %.0f", name, got, budget)
		}
	}
	check("ParseToken", 3, func() { _, _ = session.ParseToken(tok) })

	sq, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "s.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	for name, st := range map[string]session.Backend{"memory": memstore.New(nil), "sqlite": sq} {
		mgr, err := session.NewManager(session.Config{Store: st})
		if err != nil {
			t.Fatal(err)
		}
		_, tok, err := mgr.Create(ctx, "u", session.Meta{IP: "127.0.0.1", UserAgent: "budget"})
		if err != nil {
			t.Fatal(err)
		}
		budget := map[string]float64{"memory": 16, "sqlite": 15}[name]
		check("Manager.Load/"+name, budget, func() {
			if _, err := mgr.Load(ctx, tok); err != nil {
				t.Fatal(err)
			}
		})
	}
}
