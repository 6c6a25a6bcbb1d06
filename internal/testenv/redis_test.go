package testenv

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStartRedis_KillRestartKeepsAOF(t *testing.T) {
	t.Parallel()
	r := StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	if got := r.Do(t, "PING"); got != "PONG" {
		t.Fatalf("PING = %q", got)
	}
	if r.URL != "redis://"+r.Addr || !strings.HasPrefix(r.Addr, "127.0.0.1:") {
		t.Fatalf("Addr %q URL %q", r.Addr, r.URL)
	}
	r.Do(t, "SET", "k", "v")
	r.Kill(t)
	if r.Running() {
		t.Fatal("running after Kill")
	}
	if _, err := redisDo(r.Addr, 200*time.Millisecond, "PING"); err == nil {
		t.Fatal("PING answered after Kill")
	}
	r.Restart(t)
	if got := r.Do(t, "GET", "k"); got != "v" {
		t.Fatalf("after restart GET k = %q, want v (AOF not reloaded)", got)
	}
}

func TestStartRedis_DefaultsNoPersistence(t *testing.T) {
	t.Parallel()
	r := StartRedis(t)
	info := r.Do(t, "INFO", "persistence")
	if !strings.Contains(info, "aof_enabled:0") {
		t.Fatalf("AOF enabled by default:\n%s", info)
	}
	r.Do(t, "SET", "k", "v")
	r.Kill(t)
	r.Restart(t)
	if got := r.Do(t, "GET", "k"); got != "" {
		t.Fatalf("GET k after restart without persistence = %q", got)
	}
}

// TestStartRedis_CleanupKillsServer: after the test, no process is left.
func TestStartRedis_CleanupKillsServer(t *testing.T) {
	t.Parallel()
	var pid int
	var dir string
	t.Run("inner", func(t *testing.T) {
		r := StartRedis(t)
		info := r.Do(t, "INFO", "server")
		i := strings.Index(info, "process_id:")
		f := strings.Fields(info[i+len("process_id:"):])
		pid, _ = strconv.Atoi(f[0])
		dir = r.Dir
	})
	if pid == 0 {
		t.Fatal("no pid")
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Fatalf("redis-server pid %d still alive after cleanup", pid)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("dir %s left behind: %v", dir, err)
	}
}

func TestStartRedisCluster(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := StartRedisCluster(t)
	t.Logf("cluster formed in %v", time.Since(start))
	if len(c.Nodes) != 6 || len(c.Addrs) != 6 || !strings.HasPrefix(c.URL, "redis+cluster://127.0.0.1:") {
		t.Fatalf("cluster %+v", c)
	}
	if m := c.Masters(t); len(m) != 3 {
		t.Fatalf("%d masters, want 3", len(m))
	}
	// A key lands on its slot's master: redis-cli -c follows the redirect.
	out, err := exec.Command("redis-cli", "-c", "-p", strings.TrimPrefix(c.Addrs[0], "127.0.0.1:"), "SET", "{x}k", "v").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "OK" {
		t.Fatalf("SET through the cluster: %v %s", err, out)
	}

	killed := c.KillMaster(t, 0)
	start = time.Now()
	c.WaitHealthy(t, 30*time.Second)
	t.Logf("failover took %v", time.Since(start))
	if m := c.Masters(t); len(m) != 3 {
		t.Fatalf("%d masters after failover, want 3", len(m))
	}
	killed.Restart(t)
	c.WaitHealthy(t, 30*time.Second)
}

// TestStartRedisSentinel_Failover: the set-up starts healthy, and after the
// master is killed the sentinels promote the replica.
func TestStartRedisSentinel_Failover(t *testing.T) {
	t.Parallel()
	rs := StartRedisSentinel(t)
	if !strings.HasPrefix(rs.URL, "redis+sentinel://127.0.0.1:") || !strings.HasSuffix(rs.URL, "/mymaster") {
		t.Fatalf("URL %q", rs.URL)
	}
	old := rs.Master(t)
	if old != rs.Nodes[0] {
		t.Fatalf("master at start is %v, want Nodes[0]", old)
	}
	old.Do(t, "SET", "k", "v")
	rs.KillMaster(t)
	rs.WaitHealthy(t, 30*time.Second)
	m := rs.Master(t)
	if m == nil || m == old {
		t.Fatalf("no new master after failover: %v", m)
	}
	if got := m.Do(t, "GET", "k"); got != "v" {
		t.Fatalf("GET k on the promoted replica = %q", got)
	}
}
