// Command load is sessiond's load harness (issue 7): it builds and starts
// the trivial net/http handler (bench/trivial) and sessiond as separate
// processes on loopback, drives each scenario with a fixed number of
// keep-alive connections for a fixed time, and prints a markdown table with
// requests/s, latency quantiles, CPU and allocations per request, and the
// ratio to the trivial handler measured in the same run.
//
//	go run ./bench/load [-duration 5s] [-conns 32] [-scenarios all|a,b] [-nodes 3]
//
// Setups: sessiond on its embedded store (SQLite), and, when redis-server
// and PostgreSQL are available, Redis sessions + PostgreSQL users on one
// node and on -nodes nodes (requests spread round-robin over the nodes by
// the load generator). The revocation probe runs on the multi-node setup.
// It exits non-zero only on setup errors.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sessiond/sessiond/account"
)

// scenarioNames are the -scenarios values, in run order.
var scenarioNames = []string{
	"cookie", "bearer-eddsa", "bearer-es256", "bearer-rs256", "bearer-hs256",
	"authz", "refresh", "patch", "login", "revocation",
}

const (
	password   = "a long enough load pass"
	cookieUser = "cookie@example.com"
	tokenUser  = "token@example.com"
	loginUser  = "login@example.com"
	probeUser  = "probe@example.com"
)

type options struct {
	dur       time.Duration
	conns     int
	nodes     int
	trials    int
	scenarios map[string]bool
	dir, bin  string
	loadavg   string // at start
}

func main() {
	var o options
	var scen string
	flag.DurationVar(&o.dur, "duration", 5*time.Second, "measured time per scenario")
	flag.IntVar(&o.conns, "conns", 32, "keep-alive connections per scenario")
	flag.StringVar(&scen, "scenarios", "all", "comma-separated scenarios, or all: "+strings.Join(scenarioNames, ","))
	flag.IntVar(&o.nodes, "nodes", 3, "nodes of the multi-node Redis+PostgreSQL setup (< 2: skip it)")
	flag.IntVar(&o.trials, "trials", 50, "revocation probe trials")
	flag.Parse()
	o.scenarios = map[string]bool{}
	for s := range strings.SplitSeq(scen, ",") {
		s = strings.TrimSpace(s)
		switch {
		case s == "all":
			for _, n := range scenarioNames {
				o.scenarios[n] = true
			}
		case slices.Contains(scenarioNames, s):
			o.scenarios[s] = true
		case s == "":
		default:
			fatalf("unknown scenario %q (known: %s)", s, strings.Join(scenarioNames, ","))
		}
	}
	if o.conns < 1 || o.dur <= 0 {
		fatalf("-conns and -duration must be positive")
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		fmt.Fprintln(os.Stderr, "load: interrupted")
		runCleanups()
		os.Exit(130)
	}()

	dir, err := os.MkdirTemp("", "sessiond-load")
	if err != nil {
		fatalf("%v", err)
	}
	atExit(func() { os.RemoveAll(dir) })
	o.dir = dir
	began := time.Now()
	if b, err := os.ReadFile("/proc/loadavg"); err == nil && len(strings.Fields(string(b))) >= 3 {
		o.loadavg = strings.Join(strings.Fields(string(b))[:3], " ")
	}

	// Build both servers from the module root (the current directory
	// when run as `go run ./bench/load` or `make bench`).
	logf("building sessiond and bench/trivial")
	o.bin = filepath.Join(dir, "sessiond")
	trivialBin := filepath.Join(dir, "trivial")
	for _, b := range [][2]string{{o.bin, "./cmd/sessiond"}, {trivialBin, "./bench/trivial"}} {
		if out, err := exec.Command("go", "build", "-o", b[0], b[1]).CombinedOutput(); err != nil {
			fatalf("go build %s (run from the module root): %v\n%s", b[1], err, out)
		}
	}

	var results []*result

	// The yardstick.
	taddr := freeAddr()
	tp := start(dir, "trivial", trivialBin, "-addr", taddr)
	tp.url = "http://" + taddr
	tp.waitHTTP("/")
	logf("trivial handler")
	trivial := drive("—", "trivial net/http handler (bench/trivial)", []string{tp.url}, []*proc{tp}, false, o.conns, o.dur, getOp("/", nil))
	results = append(results, trivial)

	// Embedded store, one instance per signing algorithm.
	algs := []struct{ scen, alg string }{{"bearer-eddsa", "EdDSA"}, {"bearer-es256", "ES256"}, {"bearer-rs256", "RS256"}, {"bearer-hs256", "HS256"}}
	for k, a := range algs {
		rest := k == 0 // cookie, authz, refresh, patch, login run on the EdDSA instance
		if !o.scenarios[a.scen] && !(rest && o.any("cookie", "authz", "refresh", "patch", "login")) {
			continue
		}
		extra := "token:\n  alg: " + a.alg + "\n"
		if a.alg == "HS256" {
			extra += fmt.Sprintf("  hs256_secret: %q\n", randHex(32))
		}
		nodes := o.sessiond("embedded-"+a.alg, extra, 1)
		setup := "embedded (SQLite)"
		if rest {
			results = append(results, o.common(setup, nodes, nodes[0], []string{"cookie", "authz"})...)
		}
		if o.scenarios[a.scen] {
			results = append(results, o.bearer(setup, nodes, a.alg))
		}
		if rest {
			results = append(results, o.common(setup, nodes, nodes[0], []string{"refresh", "patch", "login"})...)
		}
		for _, n := range nodes {
			n.stop()
		}
	}

	// Redis sessions + PostgreSQL users.
	var pr *probeResult
	var prErr error
	if o.any("cookie", "bearer-eddsa", "authz", "refresh", "patch", "login", "revocation") {
		if cluster, why := o.redisPG(); cluster == nil {
			logf("SKIPPING the Redis+PostgreSQL setups: %s", why)
		} else {
			one := cluster[:1]
			setup := "Redis+PG, 1 node"
			all := []string{"cookie", "bearer-eddsa", "authz", "refresh", "patch", "login"}
			results = append(results, o.common(setup, one, one[0], all)...)
			if len(cluster) > 1 {
				setup = fmt.Sprintf("Redis+PG, %d nodes", len(cluster))
				results = append(results, o.common(setup, cluster, cluster[0], all)...)
				if o.scenarios["revocation"] && len(cluster) >= 3 {
					logf("revocation probe, %d trials", o.trials)
					pr, prErr = probe(cluster, probeUser, password, o.trials)
				}
			}
		}
	}

	// The yardstick again: how much the machine drifted during the run.
	stopServers()
	logf("trivial handler, again")
	results = append(results, drive("—", "trivial handler again, at the end (drift check)", []string{tp.url}, []*proc{tp}, false, o.conns, o.dur, getOp("/", nil)))
	tp.stop()

	// The argon2id bound, in process, with sessiond stopped.
	var bound float64
	if o.scenarios["login"] {
		logf("argon2id bound (account.Hasher, %d goroutines)", runtime.GOMAXPROCS(0))
		bound = argonBound(min(o.dur, 5*time.Second))
	}

	printTable(results, trivial, bound, o, began)
	if o.scenarios["revocation"] {
		printProbe(pr, prErr, o)
	}
	runCleanups()
}

func (o *options) any(names ...string) bool {
	return slices.ContainsFunc(names, func(n string) bool { return o.scenarios[n] })
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "load: "+format+"\n", args...)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// servers are every sessiond started, for stopServers.
var (
	serversMu sync.Mutex
	servers   []*proc
)

func stopServers() {
	serversMu.Lock()
	defer serversMu.Unlock()
	for _, p := range servers {
		p.stop()
	}
}

// baseConfig is what every sessiond instance runs with on top of the
// defaults: login limits out of the way (the login scenario logs in as
// fast as it can from one IP, one account).
func baseConfig(extra string) string {
	return fmt.Sprintf(`ratelimit:
  login_per_ip: 1000000000/1s
  login_per_account: 1000000000/1s
password:
  memory_kib: %d
  time: %d
  threads: %d
%s`, account.DefaultMemory, account.DefaultTime, account.DefaultThreads, extra)
}

// sessiond writes a config, creates the accounts with the CLI and starts n
// nodes sharing it.
func (o *options) sessiond(name, config string, n int) []*proc {
	data := filepath.Join(o.dir, name)
	if err := os.MkdirAll(data, 0o700); err != nil {
		fatalf("%v", err)
	}
	cfg := filepath.Join(data, "sessiond.yaml")
	if err := os.WriteFile(cfg, []byte(baseConfig(config)), 0o600); err != nil {
		fatalf("%v", err)
	}
	runCLI(o.bin, "", "migrate", "--config", cfg, "--data", data)
	for _, u := range []string{cookieUser, tokenUser, loginUser, probeUser} {
		runCLI(o.bin, password+"\n", "user", "add", "--config", cfg, "--data", data, "--email", u, "--password-stdin")
	}
	var nodes []*proc
	for i := range n {
		addr := freeAddr()
		p := start(o.dir, fmt.Sprintf("%s-%d", name, i), o.bin, "serve", "--config", cfg, "--data", data, "--addr", addr)
		p.url = "http://" + addr
		serversMu.Lock()
		servers = append(servers, p)
		serversMu.Unlock()
		nodes = append(nodes, p)
	}
	for _, p := range nodes {
		p.waitHTTP("/healthz")
	}
	return nodes
}

// redisPG starts redis-server and a PostgreSQL database and o.nodes
// sessiond nodes on them (at least one); nil and the reason when Redis or
// PostgreSQL is missing.
func (o *options) redisPG() ([]*proc, string) {
	rd, err := startRedis(o.dir)
	if err != nil {
		return nil, "redis-server: " + err.Error()
	}
	dsn, err := postgresDB()
	if err != nil {
		rd.stop()
		return nil, "PostgreSQL: " + err.Error()
	}
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	cfg := fmt.Sprintf("store:\n  users: %q\n  sessions: %q\ntoken:\n  key_encryption_key: %q\n  issuer: \"http://sessiond.load.test\"\n",
		dsn, rd.url, base64.StdEncoding.EncodeToString(kek))
	n := max(o.nodes, 1)
	logf("Redis+PostgreSQL: %d node(s)", n)
	return o.sessiond("redis-pg", cfg, n), ""
}

// bearer measures whoami with an access token of alg.
func (o *options) bearer(setup string, nodes []*proc, alg string) *result {
	t, err := passwordGrant(nodes[0].url, tokenUser, password)
	if err != nil {
		fatalf("%v", err)
	}
	logf("%s: whoami bearer %s", setup, alg)
	return drive(setup, "whoami, bearer "+alg, urls(nodes), nodes, true, o.conns, o.dur,
		getOp("/v1/whoami", map[string]string{"Authorization": "Bearer " + t.Access}))
}

func urls(nodes []*proc) []string {
	var u []string
	for _, n := range nodes {
		u = append(u, n.url)
	}
	return u
}

// common runs the named scenarios (those selected) on nodes; first is where
// credentials are made.
func (o *options) common(setup string, nodes []*proc, first *proc, names []string) []*result {
	var out []*result
	us := urls(nodes)
	for _, name := range names {
		if !o.scenarios[name] {
			continue
		}
		if name != "bearer-eddsa" {
			logf("%s: %s", setup, name)
		}
		switch name {
		case "cookie", "authz":
			l, err := doLogin(first.url, cookieUser, password)
			if err != nil {
				fatalf("%v", err)
			}
			path, title := "/v1/whoami", "whoami, cookie"
			if name == "authz" {
				path, title = "/v1/authz", "forward-auth /v1/authz, cookie"
			}
			out = append(out, drive(setup, title, us, nodes, true, o.conns, o.dur, getOp(path, map[string]string{"Cookie": l.cookie})))
		case "bearer-eddsa":
			out = append(out, o.bearer(setup, nodes, "EdDSA"))
		case "refresh":
			chains := make([]string, o.conns)
			parallel(o.conns, func(i int) {
				t, err := passwordGrant(first.url, tokenUser, password)
				if err != nil {
					fatalf("%v", err)
				}
				chains[i] = t.Refresh
			})
			out = append(out, drive(setup, "refresh rotation (one family per connection)", us, nodes, true, o.conns, o.dur,
				refreshOp(first.url, tokenUser, password, chains)))
		case "patch":
			sessions := make([]login, o.conns)
			parallel(o.conns, func(i int) {
				l, err := doLogin(first.url, cookieUser, password)
				if err != nil {
					fatalf("%v", err)
				}
				sessions[i] = l
			})
			out = append(out, drive(setup, "session data PATCH (one session per connection)", us, nodes, true, o.conns, o.dur, patchOp(sessions)))
		case "login":
			out = append(out, drive(setup, "login (POST /v1/login)", us, nodes, true, o.conns, o.dur, loginOp(loginUser, password)))
		}
	}
	return out
}

// parallel runs f(0..n-1) on a few goroutines (setup logins are argon2id).
func parallel(n int, f func(int)) {
	var wg sync.WaitGroup
	var next atomic.Int64
	for range min(n, runtime.NumCPU()*2) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// argonBound is password hashes per second at the configured cost with
// every core busy, through account.Hasher as sessiond uses it.
func argonBound(d time.Duration) float64 {
	h, err := account.NewHasher(account.Params{Memory: account.DefaultMemory, Time: account.DefaultTime, Threads: account.DefaultThreads})
	if err != nil {
		fatalf("hasher: %v", err)
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	ctx := context.Background()
	deadline := time.Now().Add(d)
	t0 := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if _, err := h.Hash(ctx, password); err != nil {
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(t0).Seconds()
}

func fmtDur(d time.Duration) string {
	switch {
	case d < 0:
		return "—"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
}

func fmtInt(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func printTable(rs []*result, trivial *result, bound float64, o options, began time.Time) {
	host, _ := os.Hostname()
	fmt.Printf("\n`go run ./bench/load -duration %s -conns %d -nodes %d` on %s: %d CPUs (%s/%s), %s, %s, load average at start %s (load generator on the same cores; whole run %s)\n\n",
		o.dur, o.conns, o.nodes, host, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(),
		time.Now().UTC().Format("2006-01-02T15:04Z"), o.loadavg, time.Since(began).Round(time.Second))
	fmt.Println("| setup | scenario | requests/s | p50 | p99 | p99.9 | CPU/req | allocs/req | non-2xx | vs trivial |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		allocs := "—"
		if r.allocs >= 0 {
			allocs = fmt.Sprintf("%.0f", r.allocs)
		}
		bad := fmtInt(float64(r.non2xx))
		if r.errs > 0 {
			bad += fmt.Sprintf(" (+%d errors)", r.errs)
		}
		ratio := fmt.Sprintf("%.1f%%", 100*r.rps()/trivial.rps())
		if strings.HasPrefix(r.name, "login") && bound > 0 {
			ratio += fmt.Sprintf("; %.0f%% of argon2id bound", 100*r.rps()/bound)
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.setup, r.name, fmtInt(r.rps()),
			fmtDur(r.h.quantile(0.50)), fmtDur(r.h.quantile(0.99)), fmtDur(r.h.quantile(0.999)),
			fmtDur(r.cpuPerReq), allocs, bad, ratio)
	}
	fmt.Printf("\n%d keep-alive connections per scenario, %s each. CPU/req: utime+stime of the server process(es) from /proc (10 ms ticks). allocs/req: go_memstats_mallocs_total from /metrics. Ratios are to the trivial handler in this run.\n", o.conns, o.dur)
	if bound > 0 {
		fmt.Printf("argon2id bound: %.1f hashes/s (m=%d KiB, t=%d, p=%d; account.Hasher, %d goroutines, in process).\n",
			bound, account.DefaultMemory, account.DefaultTime, account.DefaultThreads, runtime.GOMAXPROCS(0))
	}
}

func printProbe(pr *probeResult, err error, o options) {
	fmt.Println()
	switch {
	case err != nil:
		fmt.Printf("Revocation probe failed: %v\n", err)
		return
	case pr == nil:
		fmt.Println("Revocation probe: not run (needs Redis, PostgreSQL and -nodes >= 3).")
		return
	}
	fmt.Printf("Revocation probe (%d nodes, Redis+PG): %d trials, revoked on node A (DELETE /v1/sessions/{id}), nodes B and C polling GET /v1/whoami until 401; %d samples, %d timeouts (5 s).\n\n",
		max(o.nodes, 3), pr.trials, pr.fromSent.n, pr.timeouts)
	fmt.Println("| measure | p50 | p99 | max |")
	fmt.Println("|---|---|---|---|")
	for _, row := range []struct {
		name string
		h    *hist
	}{{"refused on B/C, from the revocation sent", &pr.fromSent}, {"refused on B/C, from the revocation answered", &pr.fromAck}, {"revocation round trip on A", &pr.deleteRTT}} {
		fmt.Printf("| %s | %s | %s | %s |\n", row.name, fmtDur(row.h.quantile(0.5)), fmtDur(row.h.quantile(0.99)), fmtDur(row.h.quantile(1)))
	}
}
