package pgstore_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/pgstore"
	"github.com/sessiond/sessiond/store/storetest"
)

// Store-level benchmarks against the machine's PostgreSQL (see
// internal/testenv.Postgres), each in a fresh database. The pool has 8
// connections, as pgbench -c 8 has, unless SESSIOND_BENCH_POOL says
// otherwise in DSN form (e.g. "pool_max_conns=64"). Run with
//
//	go test -run '^$' -bench . -benchmem ./store/pgstore/
//
// Each benchmark runs at 1 goroutine and at 64 (b.SetParallelism) and
// reports ops/s.

var concurrencies = []int{1, 64}

func benchStore(b *testing.B) *pgstore.Store {
	b.Helper()
	return open(b, migrated(b)+"&pool_max_conns=8", pgstore.Options{})
}

// run measures g goroutines in total, each calling the op that newWorker
// returns for it (so a worker can keep state of its own).
func run(b *testing.B, g int, newWorker func() func() error) {
	b.Helper()
	b.ReportAllocs()
	if g == 1 {
		op := newWorker()
		for b.Loop() {
			if err := op(); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		b.SetParallelism((g + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			op := newWorker()
			for pb.Next() {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	st := benchStore(b)
	ids := make([]string, 1024)
	for i := range ids {
		s := storetest.NewSession(b, fmt.Sprint("u", i%64), time.Now(), time.Hour)
		s.Data = []byte(`{"theme":"dark","cart":[1,2,3]}`)
		if err := st.Create(ctx, s); err != nil {
			b.Fatal(err)
		}
		ids[i] = s.ID
	}
	for _, g := range concurrencies {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			var next atomic.Int64
			run(b, g, func() func() error {
				return func() error {
					_, err := st.Get(ctx, ids[next.Add(1)%int64(len(ids))])
					return err
				}
			})
		})
	}
}

func BenchmarkCreate(b *testing.B) {
	ctx := context.Background()
	st := benchStore(b)
	for _, g := range concurrencies {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			var n atomic.Int64
			run(b, g, func() func() error {
				return func() error {
					return st.Create(ctx, storetest.NewSession(b, fmt.Sprint("u", n.Add(1)%1000), time.Now(), time.Hour))
				}
			})
		})
	}
}

func BenchmarkSetData(b *testing.B) {
	ctx := context.Background()
	st := benchStore(b)
	data := []byte(`{"theme":"dark","cart":[1,2,3]}`)
	for _, g := range concurrencies {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			// Each worker merges into a session of its own, as users do:
			// every compare-and-set succeeds.
			run(b, g, func() func() error {
				var s *session.Session
				var v int64
				return func() error {
					if s == nil {
						s = storetest.NewSession(b, "u-data", time.Now(), time.Hour)
						if err := st.Create(ctx, s); err != nil {
							return err
						}
					}
					nv, err := st.SetData(ctx, s.ID, data, v)
					v = nv
					return err
				}
			})
		})
	}
}
