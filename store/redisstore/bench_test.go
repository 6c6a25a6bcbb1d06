package redisstore_test

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/refresh"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/redisstore"
	"github.com/sessiond/sessiond/store/storetest"
)

// BenchmarkStore measures Get, Create, SetData, Rotate (refresh tokens) and
// Denied (the access-token denylist) against a throwaway redis-server at 1
// and 64 goroutines, then runs redis-benchmark against the same server for
// the ceiling:
//
//	go test -run '^$' -bench BenchmarkStore -benchmem ./store/redisstore/
func BenchmarkStore(b *testing.B) {
	r := testenv.StartRedis(b)
	st := open(b, r.URL, redisstore.Options{})
	ctx := context.Background()
	tmpl := storetest.NewSession(b, "bench-user", time.Now(), time.Hour)
	tmpl.UserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
	tmpl.Data = []byte(`{"theme":"dark","cart":[1,2,3]}`)
	seeded := make([]*session.Session, 1024)
	for i := range seeded {
		s := tmpl.Clone()
		s.ID = fmt.Sprintf("seed-%d-%d", time.Now().UnixNano(), i)
		s.UserID = fmt.Sprintf("bench-user-%d", i%64)
		if err := st.Create(ctx, s); err != nil {
			b.Fatal(err)
		}
		seeded[i] = s
	}
	var seq atomic.Int64
	ops := []struct {
		name string
		fn   func() func(i int) error // per goroutine
	}{
		{"Get", func() func(int) error {
			return func(i int) error { _, err := st.Get(ctx, seeded[i%len(seeded)].ID); return err }
		}},
		{"Create", func() func(int) error {
			return func(int) error {
				s := tmpl.Clone()
				n := seq.Add(1)
				s.ID = "c-" + strconv.FormatInt(n, 36)
				s.UserID = "bench-create-" + strconv.FormatInt(n%1000, 10)
				return st.Create(ctx, s)
			}
		}},
		{"SetData", func() func(int) error {
			// Each goroutine updates its own session, so every CAS wins.
			var s *session.Session
			var v int64
			data := []byte(`{"theme":"light","cart":[1,2,3,4]}`)
			return func(int) error {
				if s == nil {
					s = tmpl.Clone()
					s.ID = "d-" + strconv.FormatInt(seq.Add(1), 36)
					if err := st.Create(ctx, s); err != nil {
						return err
					}
				}
				nv, err := st.SetData(ctx, s.ID, data, v)
				v = nv
				return err
			}
		}},
		{"Rotate", func() func(int) error {
			// Each goroutine rotates its own family's live token, so every
			// rotation wins: spend script, then the successor, the family
			// script and the index score, pipelined (two round trips).
			var live *refresh.Token
			sealed := make([]byte, 600) // about a sealed pair with a JWT
			return func(int) error {
				now := time.Now()
				if live == nil {
					f, first := storetest.NewFamily(b, "bench-rotate-"+strconv.FormatInt(seq.Add(1)%1000, 10), now, time.Hour)
					if err := st.CreateFamily(ctx, f, first); err != nil {
						return err
					}
					live = first
				}
				next := storetest.NewRefreshToken(b, live.FamilyID, live.Generation+1)
				if _, err := st.Rotate(ctx, live.ID, next, sealed, now, now.Add(time.Hour)); err != nil {
					return err
				}
				live = next
				return nil
			}
		}},
		{"Denied", func() func(int) error {
			// The bearer hot path: a jti and a sid, neither denied (the
			// full cost: both keys are read), one pipelined round trip.
			return func(i int) error {
				d, err := st.Denied(ctx, "jti:"+strconv.Itoa(i%4096), "sid:f_"+strconv.Itoa(i%512))
				if err == nil && d {
					err = fmt.Errorf("key %d denied", i)
				}
				return err
			}
		}},
	}
	procs := runtime.GOMAXPROCS(0)
	for _, o := range ops {
		b.Run(o.name+"/goroutines=1", func(b *testing.B) {
			fn := o.fn()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := fn(i); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
		p := max(1, (64+procs-1)/procs)
		b.Run(fmt.Sprintf("%s/goroutines=%d", o.name, p*procs), func(b *testing.B) {
			b.SetParallelism(p)
			b.ReportAllocs()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				fn := o.fn()
				for i := 0; pb.Next(); i++ {
					if err := fn(i); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
		})
	}

	// The ceiling: redis-benchmark against the same server.
	port := strings.TrimPrefix(r.Addr, "127.0.0.1:")
	for _, args := range [][]string{
		{"-p", port, "-t", "get,set", "-n", "100000", "-q"},
		{"-p", port, "-t", "get,set", "-n", "100000", "-q", "-c", "1"},
		{"-p", port, "-t", "get,set", "-n", "100000", "-q", "-c", "64", "-P", "16"},
	} {
		out, err := exec.Command("redis-benchmark", args...).CombinedOutput()
		if err != nil {
			b.Logf("redis-benchmark %s: %v", strings.Join(args, " "), err)
			continue
		}
		b.Logf("redis-benchmark %s\n%s", strings.Join(args, " "), strings.TrimSpace(cleanBenchmark(string(out))))
	}
}

// cleanBenchmark drops redis-benchmark's progress lines (carriage returns).
func cleanBenchmark(s string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if i := strings.LastIndex(line, "\r"); i >= 0 {
			line = line[i+1:]
		}
		if strings.TrimSpace(line) != "" {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return strings.Join(out, "\n")
}
