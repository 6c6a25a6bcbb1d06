package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RedisSentinel is a throwaway Redis Sentinel set-up on loopback ports,
// started by StartRedisSentinel: one master, one replica and three
// sentinels monitoring them under MasterName with a quorum of two.
type RedisSentinel struct {
	// MasterName is the name the sentinels monitor the master under.
	MasterName string
	// URL is "redis+sentinel://S1,S2,S3/MASTERNAME", naming the sentinels.
	URL string
	// Nodes are the data servers, the first master at start; which of them
	// is master changes with failovers (see Master).
	Nodes []*Redis
	// Sentinels are the three redis-sentinel processes.
	Sentinels []*Redis
}

// RedisSentinelDownAfter is the down-after-milliseconds of
// StartRedisSentinel's sentinels: a master that stops answering is failed
// over after about this long, plus an election (typically a second or two).
const RedisSentinelDownAfter = 1000 * time.Millisecond

// StartRedisSentinel starts a master and a replica (redis-server, no
// persistence, replica linked and in sync) and three sentinels
// (redis-sentinel) monitoring them as "mymaster", and waits until every
// sentinel sees the master, its replica and the two other sentinels.
// Everything is removed in t.Cleanup. A missing binary skips the test
// (fails with CI=true); Debian's package is redis-sentinel.
func StartRedisSentinel(t testing.TB) *RedisSentinel {
	t.Helper()
	bin := redisBin(t, "redis-sentinel")
	rs := &RedisSentinel{MasterName: "mymaster"}
	sync := []string{"--repl-diskless-sync-delay", "0"}
	master := startRedis(t, func() []string { return sync })
	masterHost, masterPort, _ := strings.Cut(master.Addr, ":")
	replica := startRedis(t, func() []string {
		return append([]string{"--replicaof", masterHost, masterPort}, sync...)
	})
	rs.Nodes = []*Redis{master, replica}

	var addrs []string
	for i := range 3 {
		s := startSentinel(t, bin, i, rs.MasterName, master.Addr)
		rs.Sentinels = append(rs.Sentinels, s)
		addrs = append(addrs, s.Addr)
	}
	rs.URL = "redis+sentinel://" + strings.Join(addrs, ",") + "/" + rs.MasterName
	rs.WaitHealthy(t, 30*time.Second)
	return rs
}

// startSentinel starts the i-th sentinel with its own configuration file
// (sentinels rewrite it) on a free port.
func startSentinel(t testing.TB, bin string, i int, name, masterAddr string) *Redis {
	t.Helper()
	dir := t.TempDir()
	host, port, _ := strings.Cut(masterAddr, ":")
	var lastErr error
	for range 8 {
		p := redisFreePort(t)
		conf := filepath.Join(dir, "sentinel.conf")
		text := fmt.Sprintf(`port %d
bind 127.0.0.1
dir %s
daemonize no
protected-mode no
logfile ""
loglevel warning
sentinel monitor %s %s %s 2
sentinel down-after-milliseconds %s %d
sentinel failover-timeout %s 10000
sentinel parallel-syncs %s 1
`, p, dir, name, host, port, name, RedisSentinelDownAfter/time.Millisecond, name, name)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatalf("testenv: sentinel %d config: %v", i, err)
		}
		r := &Redis{Addr: "127.0.0.1:" + strconv.Itoa(p), Dir: dir, args: []string{conf}}
		r.URL = "redis://" + r.Addr
		err := r.start(bin)
		if err == nil {
			t.Cleanup(func() { r.stop() })
			return r
		}
		lastErr = err
		if !strings.Contains(err.Error(), errRedisExited.Error()) {
			break
		}
	}
	t.Fatalf("testenv: start redis-sentinel %d: %v", i, lastErr)
	return nil
}

// Master returns the data node that is running and reports role:master, or
// nil when there is none (during a failover).
func (rs *RedisSentinel) Master(t testing.TB) *Redis {
	t.Helper()
	for _, r := range rs.Nodes {
		if !r.Running() {
			continue
		}
		info, err := redisDo(r.Addr, 2*time.Second, "INFO", "replication")
		if err == nil && strings.Contains(info, "role:master") {
			return r
		}
	}
	return nil
}

// KillMaster kills (SIGKILL) the current master and returns it, without
// waiting for the failover; use WaitHealthy for that, and the returned
// node's Restart to bring it back (the sentinels turn it into a replica).
func (rs *RedisSentinel) KillMaster(t testing.TB) *Redis {
	t.Helper()
	m := rs.Master(t)
	if m == nil {
		t.Fatal("testenv: kill master: no master")
	}
	m.Kill(t)
	return m
}

// WaitHealthy waits up to timeout until every running sentinel reports the
// master as status=ok at the address of a running node that is master,
// with the other two sentinels known, and every running replica is linked
// to that master and done with its initial sync. After KillMaster it
// returns only once the replica has been promoted and the sentinels agree.
// It fails the test on timeout.
func (rs *RedisSentinel) WaitHealthy(t testing.TB, timeout time.Duration) {
	t.Helper()
	waitHealthy(t, "redis sentinel set-up", timeout, rs.unhealthy)
}

// unhealthy returns why the set-up is not healthy, or "".
func (rs *RedisSentinel) unhealthy() string {
	var master string
	for _, r := range rs.Nodes {
		if !r.Running() {
			continue
		}
		repl, err := redisDo(r.Addr, time.Second, "INFO", "replication")
		if err != nil {
			return fmt.Sprintf("%s: INFO replication: %v", r.Addr, err)
		}
		if strings.Contains(repl, "role:master") {
			if master != "" {
				return fmt.Sprintf("two masters: %s and %s", master, r.Addr)
			}
			master = r.Addr
		} else if !strings.Contains(repl, "master_link_status:up") || strings.Contains(repl, "master_sync_in_progress:1") {
			return fmt.Sprintf("%s: replica not in sync with its master", r.Addr)
		}
	}
	if master == "" {
		return "no running master"
	}
	want := "status=ok,address=" + master + ",slaves="
	for _, s := range rs.Sentinels {
		if !s.Running() {
			continue
		}
		info, err := redisDo(s.Addr, time.Second, "INFO", "sentinel")
		if err != nil {
			return fmt.Sprintf("sentinel %s: INFO sentinel: %v", s.Addr, err)
		}
		// master0:name=mymaster,status=ok,address=IP:PORT,slaves=N,sentinels=M
		if !strings.Contains(info, want) || strings.Contains(info, want+"0,") ||
			!strings.Contains(info, fmt.Sprintf("sentinels=%d", len(rs.Sentinels))) {
			return fmt.Sprintf("sentinel %s does not yet see master %s with a replica and %d sentinels", s.Addr, master, len(rs.Sentinels))
		}
	}
	return ""
}
