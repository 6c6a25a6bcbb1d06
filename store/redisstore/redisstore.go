package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/sessiond/sessiond/internal/redact"
	"github.com/sessiond/sessiond/session"
)

// Defaults for Options fields left zero.
const (
	DefaultPrefix      = "sessiond:"
	DefaultDialTimeout = 2 * time.Second
	DefaultTimeout     = 2 * time.Second
	// DefaultRevocationTimeout bounds the wait for replicas to confirm a
	// revocation (Options.RevocationTimeout).
	DefaultRevocationTimeout = 500 * time.Millisecond
)

// sentinelRefresh is how often a Sentinel store asks the sentinels for the
// master in addition to following their +switch-master events.
const sentinelRefresh = 2 * time.Second

// maxRetries bounds how often a read is retried on a broken connection, so
// that a Redis that is down is reported within about DialTimeout instead of
// being retried until the caller's context ends.
const maxRetries = 2

// Options configures a Store. Zero fields take the documented defaults.
type Options struct {
	// Prefix starts every key the store writes. Default "sessiond:". It
	// should not contain '{' or '}' (which would change the cluster hash
	// tags, see the package documentation).
	Prefix string
	// Now is the clock. Default time.Now. Redis expires keys by its own
	// clock (the TTLs are authoritative); Now additionally hides a session
	// already past its deadline, and is the "now" of the rate limiter's
	// arithmetic. It must stay close to real time: limiter keys expire at
	// their theoretical arrival time by Redis's clock.
	Now func() time.Time
	// DialTimeout bounds connecting to a Redis node. Default 2s.
	DialTimeout time.Duration
	// Timeout bounds waiting for a reply on an established connection
	// (rueidis's ConnWriteTimeout); a node that does not answer within it
	// is treated as down and the connection is replaced. Default 2s.
	Timeout time.Duration
	// TLSConfig, when set, replaces the TLS configuration of rediss:// and
	// rediss+cluster:// URLs (default: TLS 1.2 or later, system roots, the
	// server name from the URL).
	TLSConfig *tls.Config
	// NoCache turns off the near cache (see the package documentation):
	// every session lookup and denylist check is then a round trip.
	NoCache bool
	// CacheBytes bounds the near cache of each connection to a Redis node.
	// Default 64 MiB.
	CacheBytes int
	// RevocationReplicas is how many replicas must confirm a revocation
	// (WAIT) before it counts as done; see Revocation. Zero means the
	// default: 1 on Redis Cluster and Sentinel, where replicas exist, and
	// none on a single server. A negative value turns the wait off.
	RevocationReplicas int
	// RevocationTimeout bounds that wait. Default 500ms.
	RevocationTimeout time.Duration
	// Unreplicated, when set, is called when a revocation was applied on the
	// master but not confirmed by RevocationReplicas replicas within
	// RevocationTimeout, so that a failover could undo it. It should write
	// the revocation somewhere durable (the users store) that is honoured
	// as well; if it returns nil, so does the revoking method. When nil, or
	// when it fails, the revoking method returns an *UnreplicatedError.
	// It may be called from several goroutines at once.
	Unreplicated func(ctx context.Context, r Revocation) error
}

// cacheTTL bounds how long a cached session or denylist answer lives on a
// node that hears no invalidation for it: a backstop only, since Redis
// pushes an invalidation the moment the key changes and a lost connection
// drops the cache at once.
const cacheTTL = time.Minute

// Store keeps sessions, refresh-token families with their access-token
// denylist, and rate-limit counters, in Redis or Redis Cluster. Create it
// with Open; it is safe for concurrent use, and recovers by itself when Redis
// comes back after an outage.
type Store struct {
	c       rueidis.Client
	prefix  string
	now     func() time.Time
	cluster bool
	closed  sync.Once
	recent  recentWrites   // see cache.go
	revoke  revocationWait // see revocation.go
}

var _ session.Backend = (*Store)(nil)

// Open connects to the Redis named by rawURL:
//
//	redis://[user:password@]host:port[/db]
//	rediss://[user:password@]host:port[/db]                  (TLS)
//	redis+cluster://[user:password@]host:port,host:port,...  (Redis Cluster)
//	rediss+cluster://[user:password@]host:port,host:port,...  (Cluster, TLS)
//	redis+sentinel://[user:password@]host:port,host:port,.../MASTERNAME[/db]
//	rediss+sentinel://... (Sentinel, TLS to the sentinels and the master)
//
// A +sentinel URL names the sentinels and the master set they monitor; the
// store asks them for the master and follows it through failovers without
// a restart (on +switch-master, and by asking again every few seconds). The
// user name and password, if any, are the master's.
//
// Query parameters are those of rueidis.ParseURL (dial_timeout,
// write_timeout, client_name, ...). A redis:// URL that names a cluster
// node works too: the cluster is detected. Open fails when Redis cannot be
// reached; errors never contain the password.
func Open(ctx context.Context, rawURL string, opt Options) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisstore: open: %w", err)
	}
	copt, err := clientOption(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redisstore: open %s: %w", redact.URL(rawURL), err)
	}
	if copt.TLSConfig != nil && opt.TLSConfig != nil {
		copt.TLSConfig = opt.TLSConfig.Clone()
		if copt.Sentinel.TLSConfig != nil {
			copt.Sentinel.TLSConfig = opt.TLSConfig.Clone()
		}
	}
	// Server-assisted client-side caching (RESP3 CLIENT TRACKING): reads
	// through DoCache are answered from memory until Redis says the key
	// changed. rueidis keeps the cache per connection and drops it when the
	// connection breaks, so a node cut off from Redis never trusts it.
	copt.DisableCache = opt.NoCache
	copt.CacheSizeEachConn = opt.CacheBytes
	if copt.CacheSizeEachConn <= 0 {
		copt.CacheSizeEachConn = 64 << 20
	}
	if copt.Dialer.Timeout == 0 {
		copt.Dialer.Timeout = orDefault(opt.DialTimeout, DefaultDialTimeout)
	}
	if copt.Dialer.KeepAlive == 0 {
		// An idle connection is PINGed this often, so a silent network
		// partition is noticed (and the near cache dropped) within
		// KeepAlive + Timeout.
		copt.Dialer.KeepAlive = 500 * time.Millisecond
	}
	if copt.ConnWriteTimeout == 0 {
		copt.ConnWriteTimeout = orDefault(opt.Timeout, DefaultTimeout)
	}
	if copt.Sentinel.MasterSet != "" {
		copt.Sentinel.Dialer = copt.Dialer
		// Besides following +switch-master, ask the sentinels every few
		// seconds: a missed event would otherwise bind the store to a
		// demoted master until restart.
		copt.Sentinel.TopologyRefreshInterval = sentinelRefresh
	}
	copt.RetryDelay = func(attempts int, _ rueidis.Completed, _ error) time.Duration {
		if attempts > maxRetries {
			return -1
		}
		return time.Duration(attempts) * 5 * time.Millisecond
	}
	c, err := rueidis.NewClient(copt)
	if err != nil {
		return nil, fmt.Errorf("redisstore: open %s: %w: %w", redact.URL(rawURL), session.ErrUnavailable, err)
	}
	s := &Store{c: c, prefix: opt.Prefix, now: opt.Now, cluster: c.Mode() == rueidis.ClientModeCluster}
	if err := s.setRevocation(c.Mode(), opt); err != nil {
		c.Close()
		return nil, fmt.Errorf("redisstore: open %s: %w", redact.URL(rawURL), err)
	}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.Ping(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("redisstore: open %s: %w", redact.URL(rawURL), err)
	}
	return s, nil
}

func orDefault(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

// clientOption turns one of Open's URLs into rueidis options.
func clientOption(raw string) (rueidis.ClientOption, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return rueidis.ClientOption{}, errors.New("not a redis://, rediss://, redis+cluster:// or redis+sentinel:// URL")
	}
	scheme = strings.ToLower(scheme)
	var hosts []string
	var masterSet string
	base, mode, _ := strings.Cut(scheme, "+")
	if base != "redis" && base != "rediss" || mode != "" && mode != "cluster" && mode != "sentinel" {
		return rueidis.ClientOption{}, fmt.Errorf("unsupported scheme %q (want redis, rediss, redis+cluster, rediss+cluster, redis+sentinel or rediss+sentinel)", scheme)
	}
	if mode != "" {
		end := len(rest)
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			end = i
		}
		auth, list := "", rest[:end]
		if i := strings.LastIndex(list, "@"); i >= 0 {
			auth, list = list[:i+1], list[i+1:]
		}
		for h := range strings.SplitSeq(list, ",") {
			if _, _, err := net.SplitHostPort(h); err != nil {
				return rueidis.ClientOption{}, fmt.Errorf("%s node %q is not host:port", mode, h)
			}
			hosts = append(hosts, h)
		}
		tail := rest[end:]
		if mode == "sentinel" {
			// /MASTERNAME[/db][?query]
			path, query := tail, ""
			if i := strings.IndexAny(tail, "?#"); i >= 0 {
				path, query = tail[:i], tail[i:]
			}
			name, db, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
			if name == "" {
				return rueidis.ClientOption{}, errors.New("a redis+sentinel:// URL names the master set: redis+sentinel://host:port,host:port/MASTERNAME[/db]")
			}
			masterSet = name
			tail = query
			if db != "" {
				tail = "/" + db + query
			}
		}
		rest = auth + hosts[0] + tail
	}
	copt, err := rueidis.ParseURL(base + "://" + rest)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // its text would repeat the URL, password included
			err = ue.Err
		}
		return rueidis.ClientOption{}, err
	}
	switch mode {
	case "cluster":
		if copt.SelectDB != 0 {
			return rueidis.ClientOption{}, errors.New("a Redis Cluster has only database 0")
		}
		copt.InitAddress = hosts
		if copt.TLSConfig != nil {
			copt.TLSConfig.ServerName = "" // each node's own host name
		}
	case "sentinel":
		// The sentinels are asked for the master's address, and rueidis
		// follows +switch-master; the user name and password are the
		// master's (sentinels are reached without AUTH).
		copt.InitAddress = hosts
		copt.Sentinel.MasterSet = masterSet
		if copt.TLSConfig != nil {
			copt.TLSConfig.ServerName = "" // each node's own host name
			copt.Sentinel.TLSConfig = copt.TLSConfig.Clone()
		}
	}
	return copt, nil
}

// Ping checks that Redis answers, for readiness probes: PING on a single
// server; on a cluster, CLUSTER INFO on one node, which must report
// cluster_state:ok (every slot served).
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: ping: %w", err)
	}
	if !s.cluster {
		if err := s.c.Do(ctx, s.c.B().Ping().Build()).Error(); err != nil {
			return s.wrap(ctx, "ping", err)
		}
		return nil
	}
	info, err := s.c.Do(ctx, s.c.B().ClusterInfo().Build()).ToString()
	if err != nil {
		return s.wrap(ctx, "ping", err)
	}
	if !strings.Contains(info, "cluster_state:ok") {
		return fmt.Errorf("redisstore: ping: %w: cluster state is not ok", session.ErrUnavailable)
	}
	return nil
}

// Close closes the connections. It is idempotent and always returns nil;
// afterwards every method fails.
func (s *Store) Close() error {
	s.closed.Do(s.c.Close)
	return nil
}

// wrap turns a client error into the store's error for op: a context error
// stays one (errors.Is(err, context.Canceled) holds); anything else from
// Redis or the network also wraps session.ErrUnavailable, so that nobody
// reads an outage as "no such session".
func (s *Store) wrap(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w (%v)", cerr, err)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return fmt.Errorf("redisstore: %s: %w: %w", op, session.ErrUnavailable, err)
}

// Key layout; see the package documentation.
func (s *Store) sessionKey(id string) string      { return s.prefix + "s:{" + id + "}" }
func (s *Store) indexKey(userID string) string    { return s.prefix + "u:{" + userID + "}:sessions" }
func (s *Store) familyKey(id string) string       { return s.prefix + "f:{" + id + "}" }
func (s *Store) familiesKey(userID string) string { return s.prefix + "u:{" + userID + "}:families" }
func (s *Store) clientFamiliesKey(clientID string) string {
	return s.prefix + "c:{" + clientID + "}:families"
}
func (s *Store) refreshTokenKey(id string) string { return s.prefix + "rt:{" + id + "}" }
func (s *Store) denyKey(key string) string        { return s.prefix + "deny:{" + key + "}" }
func (s *Store) limiterKey(scope, key string) string {
	return s.prefix + "rl:" + scope + ":" + key
}
