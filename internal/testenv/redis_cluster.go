package testenv

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RedisCluster is a throwaway Redis Cluster of three masters and three
// replicas on loopback ports, started by StartRedisCluster.
type RedisCluster struct {
	// Addrs are the nodes' "127.0.0.1:PORT" addresses, in the order of Nodes.
	Addrs []string
	// URL is "redis+cluster://127.0.0.1:P1,127.0.0.1:P2,..." naming every
	// node.
	URL string
	// Nodes are the six servers; which of them are masters changes with
	// failovers (see Masters).
	Nodes []*Redis
}

// RedisClusterNodeTimeout is the cluster-node-timeout of StartRedisCluster's
// nodes: a master that stops answering is failed over after about this long
// (plus an election, typically under a second more).
const RedisClusterNodeTimeout = 1000 * time.Millisecond

// StartRedisCluster starts six redis-server nodes with --cluster-enabled yes
// (no persistence), forms a cluster of three masters with one replica each
// with `redis-cli --cluster create ... --cluster-replicas 1 --cluster-yes`,
// and waits until every node reports cluster_state:ok. Everything is removed
// in t.Cleanup. A missing redis-server or redis-cli skips the test (fails
// with CI=true).
func StartRedisCluster(t testing.TB) *RedisCluster {
	t.Helper()
	cli := redisBin(t, "redis-cli")
	redisBin(t, "redis-server")
	const n = 6
	c := &RedisCluster{Nodes: make([]*Redis, n)}
	for i := range n {
		c.Nodes[i] = startRedis(t, func() []string {
			return []string{
				"--cluster-enabled", "yes",
				"--cluster-port", strconv.Itoa(redisFreePort(t)),
				"--cluster-node-timeout", strconv.Itoa(int(RedisClusterNodeTimeout / time.Millisecond)),
				"--cluster-replica-validity-factor", "0", // a replica may always take over
				"--repl-diskless-sync-delay", "0", // replicas in sync at once, not after 5s
			}
		})
	}
	for _, r := range c.Nodes {
		c.Addrs = append(c.Addrs, r.Addr)
	}
	c.URL = "redis+cluster://" + strings.Join(c.Addrs, ",")

	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("testenv: redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitHealthy(t, 30*time.Second)
	return c
}

// Masters returns the nodes that are running and currently masters, in the
// order of Nodes.
func (c *RedisCluster) Masters(t testing.TB) []*Redis {
	t.Helper()
	var out []*Redis
	for _, r := range c.Nodes {
		if !r.Running() {
			continue
		}
		info, err := redisDo(r.Addr, 2*time.Second, "INFO", "replication")
		if err != nil {
			t.Fatalf("testenv: INFO replication on %s: %v", r.Addr, err)
		}
		if strings.Contains(info, "role:master") {
			out = append(out, r)
		}
	}
	return out
}

// KillMaster kills (SIGKILL) the i-th of the current Masters and returns
// it, without waiting for a failover; use WaitHealthy for that, and the
// returned node's Restart to bring it back (it rejoins as a replica).
func (c *RedisCluster) KillMaster(t testing.TB, i int) *Redis {
	t.Helper()
	m := c.Masters(t)
	if i < 0 || i >= len(m) {
		t.Fatalf("testenv: kill master %d: only %d masters", i, len(m))
	}
	m[i].Kill(t)
	return m[i]
}

// WaitHealthy waits up to timeout until every running node reports
// cluster_state:ok with all 16384 slots served, sees every slot-owning
// master connected and not failed (so after KillMaster it returns only once
// a replica has taken over), and every running replica is linked to its
// master and done with its initial sync. It fails the test on timeout.
func (c *RedisCluster) WaitHealthy(t testing.TB, timeout time.Duration) {
	t.Helper()
	waitHealthy(t, "redis cluster", timeout, c.unhealthy)
}

// waitHealthy polls unhealthy until it returns "" and fails the test when
// it still gives a reason after timeout.
func waitHealthy(t testing.TB, what string, timeout time.Duration, unhealthy func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		why := unhealthy()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: %s not healthy after %v: %s", what, timeout, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// unhealthy returns why the cluster is not healthy, or "".
func (c *RedisCluster) unhealthy() string {
	for _, r := range c.Nodes {
		if !r.Running() {
			continue
		}
		info, err := redisDo(r.Addr, time.Second, "CLUSTER", "INFO")
		if err != nil {
			return fmt.Sprintf("%s: CLUSTER INFO: %v", r.Addr, err)
		}
		repl, err := redisDo(r.Addr, time.Second, "INFO", "replication")
		if err != nil {
			return fmt.Sprintf("%s: INFO replication: %v", r.Addr, err)
		}
		if strings.Contains(repl, "role:slave") &&
			(!strings.Contains(repl, "master_link_status:up") || strings.Contains(repl, "master_sync_in_progress:1")) {
			return fmt.Sprintf("%s: replica not in sync with its master", r.Addr)
		}
		if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
			return fmt.Sprintf("%s: %s", r.Addr, strings.Join(strings.Fields(info)[:4], " "))
		}
		nodes, err := redisDo(r.Addr, time.Second, "CLUSTER", "NODES")
		if err != nil {
			return fmt.Sprintf("%s: CLUSTER NODES: %v", r.Addr, err)
		}
		masters := 0
		for line := range strings.SplitSeq(strings.TrimSpace(nodes), "\n") {
			// <id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slot>...
			f := strings.Fields(line)
			if len(f) < 9 || !strings.Contains(f[2], "master") {
				continue
			}
			if strings.Contains(f[2], "fail") || (f[7] != "connected" && !strings.Contains(f[2], "myself")) {
				return fmt.Sprintf("%s sees slot owner %s as %s/%s", r.Addr, f[1], f[2], f[7])
			}
			masters++
		}
		if masters != 3 {
			return fmt.Sprintf("%s sees %d slot-owning masters, want 3", r.Addr, masters)
		}
	}
	return ""
}
