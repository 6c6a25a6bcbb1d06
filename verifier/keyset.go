package verifier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessiond/sessiond/token"
)

// Defaults for RemoteKeySetConfig.
const (
	// DefaultTTL is how long a key set is fresh when the response has no
	// Cache-Control max-age.
	DefaultTTL = 5 * time.Minute
	// DefaultMinTTL is the shortest freshness a response can ask for
	// (max-age=0, no-cache and no-store included).
	DefaultMinTTL = time.Minute
	// DefaultMaxTTL is the longest freshness a response can ask for.
	DefaultMaxTTL = 24 * time.Hour
	// DefaultMaxStale is how long past its freshness a key set is still
	// served while refetches fail.
	DefaultMaxStale = time.Hour
	// DefaultMinRefetchInterval is the least time between two fetches that
	// an unknown kid or an expired set triggers.
	DefaultMinRefetchInterval = 10 * time.Second
	// DefaultMaxResponseSize bounds a JWKS response: 1 MiB.
	DefaultMaxResponseSize = 1 << 20
)

// RemoteKeySetConfig configures a RemoteKeySet. Zero values mean the
// documented defaults; negative durations and sizes are errors.
type RemoteKeySetConfig struct {
	// URL is the JWKS location, e.g. https://auth.example.com/.well-known/jwks.json.
	// Required. It must be https, except for loopback hosts.
	URL string
	// InsecureAllowHTTP allows a plain-http URL on any host. Anyone on the
	// path can then replace the keys and forge every token: use it only
	// inside a network you trust as much as the issuer. Default false.
	InsecureAllowHTTP bool
	// HTTPClient makes the requests. Default: a client with a 10 s timeout
	// that follows at most 5 redirects and never from https to http.
	HTTPClient *http.Client
	// FetchTimeout bounds each fetch, whatever the client. Default 10s.
	FetchTimeout time.Duration
	// DefaultTTL is how long a fetched set is fresh when the response has
	// no Cache-Control max-age. Default 5m.
	DefaultTTL time.Duration
	// MinTTL and MaxTTL bound the freshness that Cache-Control asks for
	// (max-age minus Age; no-cache and no-store count as 0). Defaults 1m
	// and 24h.
	MinTTL, MaxTTL time.Duration
	// MaxStale is how long after its freshness ends a set is still served
	// while refetches fail. Past it, VerificationKey fails (the Verifier
	// answers 503) until a fetch succeeds. Default 1h.
	MaxStale time.Duration
	// MinRefetchInterval rate-limits fetches: at most one per interval
	// (failed attempts count), whatever the traffic. An unknown kid seen
	// sooner is simply unknown. Default 10s.
	MinRefetchInterval time.Duration
	// MaxResponseSize bounds the JWKS response body, in bytes. Default 1 MiB.
	MaxResponseSize int64
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives warnings: failed fetches and keys skipped in a set.
	// Default: no logging.
	Logger *slog.Logger
}

// RemoteKeySet is a token.KeySet backed by a remote JWK Set, as published by
// sessiond at /.well-known/jwks.json. It fetches the set on first use and
// keeps it in memory for as long as the response's Cache-Control max-age
// says (bounded by MinTTL and MaxTTL). A kid it does not know triggers a
// refetch, at most one per MinRefetchInterval; concurrent callers share one
// fetch. A key that left the published set (sessiond retires a leaked key
// at once) is dropped by the first VerificationKey after the set's
// freshness ends: within max-age of its removal (sessiond publishes
// max-age=300, so 5 minutes), sooner when a new kid triggers a refetch.
// When a refetch fails, the set it has keeps serving for up to MaxStale past
// its freshness. Keys named by a token (jku, x5u, jwk, x5c)
// are never fetched: token.Verifier refuses such tokens before asking.
//
// A fetched set holding private or symmetric key material (kty oct; d, p,
// q, dp, dq, qi, oth, k), or two keys with one kid, is refused whole and the
// previous set stays in use. Within a set, a key is skipped (and logged)
// when its use is not "sig" (absent is fine), its kid is not 1-128
// base64url characters, or its alg is not EdDSA, ES256 or RS256 matching
// the key (Ed25519; P-256; RSA of at least MinRSABits bits): one key, one
// algorithm, never guessed from the key type.
//
// A fetch runs on its own goroutine, bounded by FetchTimeout, so that a
// caller whose context ends does not abort a fetch that others wait for.
// RemoteKeySet is safe for concurrent use.
type RemoteKeySet struct {
	cfg    RemoteKeySetConfig
	client *http.Client

	cache atomic.Pointer[keyCache] // nil until the first successful fetch

	mu          sync.Mutex
	inflight    *fetchCall // guarded by mu
	lastAttempt time.Time  // guarded by mu
	lastErr     error      // guarded by mu
}

var _ token.KeySet = (*RemoteKeySet)(nil)

// keyCache is an immutable fetched key set.
type keyCache struct {
	keys       map[string]*token.Key
	expires    time.Time // fresh until
	staleUntil time.Time // served until, while refetches fail
}

// fetchCall is one fetch that several callers may wait for.
type fetchCall struct {
	done chan struct{}
	err  error // written before done is closed
}

var (
	errRateLimited   = errors.New("refetch rate-limited")
	errFetchInFlight = errors.New("fetch in flight")
)

// NewRemoteKeySet returns a RemoteKeySet for cfg.URL. It does no I/O: keys
// are fetched on first use, or by Refresh. An invalid config (missing or
// non-https URL, negative durations, MinTTL above MaxTTL) is an error.
func NewRemoteKeySet(cfg RemoteKeySetConfig) (*RemoteKeySet, error) {
	if cfg.URL == "" {
		return nil, errors.New("verifier: remote key set: URL required")
	}
	if _, err := checkURL("URL", cfg.URL, cfg.InsecureAllowHTTP); err != nil {
		return nil, fmt.Errorf("verifier: remote key set: %w", err)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"FetchTimeout", &cfg.FetchTimeout, DefaultFetchTimeout},
		{"DefaultTTL", &cfg.DefaultTTL, DefaultTTL},
		{"MinTTL", &cfg.MinTTL, DefaultMinTTL},
		{"MaxTTL", &cfg.MaxTTL, DefaultMaxTTL},
		{"MaxStale", &cfg.MaxStale, DefaultMaxStale},
		{"MinRefetchInterval", &cfg.MinRefetchInterval, DefaultMinRefetchInterval},
	} {
		if *d.v < 0 {
			return nil, fmt.Errorf("verifier: remote key set: negative %s", d.name)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if cfg.MinTTL > cfg.MaxTTL {
		return nil, fmt.Errorf("verifier: remote key set: MinTTL %s above MaxTTL %s", cfg.MinTTL, cfg.MaxTTL)
	}
	cfg.DefaultTTL = min(max(cfg.DefaultTTL, cfg.MinTTL), cfg.MaxTTL)
	switch {
	case cfg.MaxResponseSize < 0:
		return nil, errors.New("verifier: remote key set: negative MaxResponseSize")
	case cfg.MaxResponseSize == 0:
		cfg.MaxResponseSize = DefaultMaxResponseSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	client := cfg.HTTPClient
	if client == nil {
		client = defaultHTTPClient()
	}
	return &RemoteKeySet{cfg: cfg, client: client}, nil
}

// VerificationKey returns the key with the given kid. From a fresh set it
// answers without I/O. A kid that the set lacks, or a set past its
// freshness, triggers a fetch (at most one per MinRefetchInterval, shared by
// concurrent callers); a caller that holds a key from a set that is past its
// freshness but within MaxStale does not wait for someone else's fetch.
//
// It returns an error matching token.ErrNotFound when the kid is malformed
// or not in the set, and any other error when no set within MaxStale is
// available (never fetched, or every recent fetch failed): token.Verifier
// then fails closed without blaming the token.
func (s *RemoteKeySet) VerificationKey(ctx context.Context, kid string) (*token.Key, error) {
	if !token.ValidKeyID(kid) {
		return nil, fmt.Errorf("verifier: malformed kid: %w", token.ErrNotFound)
	}
	now := s.cfg.Now()
	c := s.cache.Load()
	var err error
	switch {
	case c != nil && now.Before(c.expires):
		if k, ok := c.keys[kid]; ok {
			return cloneKey(k), nil
		}
		err = s.refresh(ctx, true, false) // a new key? (rate-limited)
	case c != nil && now.Before(c.staleUntil) && c.keys[kid] != nil:
		err = s.refresh(ctx, false, false) // revalidate; don't wait for others
	default:
		err = s.refresh(ctx, true, false)
	}
	if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		return nil, fmt.Errorf("verifier: jwks: %w", err)
	}
	c = s.cache.Load()
	if c == nil || !s.cfg.Now().Before(c.staleUntil) {
		if err == nil {
			err = errors.New("no key set")
		}
		return nil, fmt.Errorf("verifier: jwks %s unavailable: %w", s.cfg.URL, err)
	}
	if k, ok := c.keys[kid]; ok {
		return cloneKey(k), nil
	}
	return nil, fmt.Errorf("verifier: kid %q: %w", kid, token.ErrNotFound)
}

// Refresh fetches the key set now, ignoring MinRefetchInterval (it joins a
// fetch already running). Call it at start-up to warm the cache or to check
// readiness; on error the cached set, if any, stays in use.
func (s *RemoteKeySet) Refresh(ctx context.Context) error {
	if err := s.refresh(ctx, true, true); err != nil {
		return fmt.Errorf("verifier: jwks %s: %w", s.cfg.URL, err)
	}
	return nil
}

// cloneKey returns a copy, so that callers cannot change the cached key.
func cloneKey(k *token.Key) *token.Key {
	c := *k
	return &c
}

// refresh starts a fetch unless one is running or (unless force) the last
// attempt was less than MinRefetchInterval ago. It waits for a fetch it
// started, and for one already running only if join. It returns the fetch's
// error, errRateLimited (wrapping the last fetch error, if any),
// errFetchInFlight, or ctx.Err().
func (s *RemoteKeySet) refresh(ctx context.Context, join, force bool) error {
	s.mu.Lock()
	call, started := s.inflight, false
	if call == nil {
		now := s.cfg.Now()
		if !force && !s.lastAttempt.IsZero() && now.Sub(s.lastAttempt) < s.cfg.MinRefetchInterval {
			last := s.lastErr
			s.mu.Unlock()
			if last != nil {
				return fmt.Errorf("%w; last fetch: %w", errRateLimited, last)
			}
			return errRateLimited
		}
		s.lastAttempt = now // failed attempts count: a down server is not hammered
		call = &fetchCall{done: make(chan struct{})}
		s.inflight = call
		started = true
		go s.run(context.WithoutCancel(ctx), call)
	}
	s.mu.Unlock()
	if !started && !join {
		return errFetchInFlight
	}
	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *RemoteKeySet) run(ctx context.Context, call *fetchCall) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.FetchTimeout)
	defer cancel()
	err := s.fetch(ctx)
	if err != nil {
		s.log(slog.LevelWarn, "verifier: jwks fetch failed", "url", s.cfg.URL, "err", err)
	}
	s.mu.Lock()
	s.inflight = nil
	s.lastErr = err
	s.mu.Unlock()
	call.err = err
	close(call.done)
}

// fetch reads, checks and installs the key set.
func (s *RemoteKeySet) fetch(ctx context.Context) error {
	resp, body, err := get(ctx, s.client, s.cfg.URL, s.cfg.MaxResponseSize)
	if err != nil {
		return err
	}
	set, skipped, err := parseJWKS(body)
	if err != nil {
		return fmt.Errorf("jwks refused: %w", err)
	}
	for _, why := range skipped {
		s.log(slog.LevelWarn, "verifier: jwks key skipped", "url", s.cfg.URL, "reason", why)
	}
	keys := make(map[string]*token.Key, len(set))
	for kid, jwk := range set {
		k, err := newTokenKey(kid, jwk.alg, jwk.pub)
		if err != nil {
			return fmt.Errorf("jwks key %q: %w", kid, err)
		}
		keys[kid] = k
	}
	now := s.cfg.Now()
	ttl := cacheTTL(resp.Header, s.cfg.DefaultTTL, s.cfg.MinTTL, s.cfg.MaxTTL)
	s.cache.Store(&keyCache{keys: keys, expires: now.Add(ttl), staleUntil: now.Add(ttl + s.cfg.MaxStale)})
	return nil
}

func (s *RemoteKeySet) log(level slog.Level, msg string, args ...any) {
	if s.cfg.Logger != nil {
		s.cfg.Logger.Log(context.Background(), level, msg, args...)
	}
}

// cacheTTL is the freshness lifetime of a response (RFC 9111 §4.2.1,
// private-cache view): max-age minus Age; no-cache or no-store count as 0;
// without max-age, def. The result is clamped to [lo, hi].
func cacheTTL(h http.Header, def, lo, hi time.Duration) time.Duration {
	ttl := def
	if maxAge, ok := parseMaxAge(h.Values("Cache-Control")); ok {
		ttl = maxAge
		if age, err := strconv.ParseInt(strings.TrimSpace(h.Get("Age")), 10, 64); err == nil && age > 0 {
			ttl -= time.Duration(min(age, maxSeconds)) * time.Second
		}
	}
	return min(max(ttl, lo), hi)
}

// maxSeconds keeps durations made from header values far from overflow.
const maxSeconds = int64(100 * 365 * 24 * 3600)

// parseMaxAge reads the max-age of Cache-Control header values: the smallest
// if there are several, 0 for no-cache or no-store. Malformed directives are
// ignored.
func parseMaxAge(values []string) (time.Duration, bool) {
	var out time.Duration
	found := false
	for _, v := range values {
		for d := range strings.SplitSeq(v, ",") {
			name, arg, _ := strings.Cut(strings.TrimSpace(d), "=")
			var secs int64
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-cache", "no-store":
				secs = 0
			case "max-age":
				arg = strings.Trim(strings.TrimSpace(arg), `"`)
				n, err := strconv.ParseInt(arg, 10, 64)
				if err != nil || n < 0 {
					continue
				}
				secs = min(n, maxSeconds)
			default:
				continue
			}
			if d := time.Duration(secs) * time.Second; !found || d < out {
				out, found = d, true
			}
		}
	}
	return out, found
}
