package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sessiond/sessiond/token"
)

// Defaults for IntrospectionConfig.
const (
	// DefaultIntrospectionCacheTTL is how long an "active" answer is
	// reused: a token revoked meanwhile is still accepted for up to this
	// long.
	DefaultIntrospectionCacheTTL = 10 * time.Second
	// DefaultIntrospectionCacheSize bounds the answers kept in memory.
	DefaultIntrospectionCacheSize = 10000
	// introspectPath is sessiond's RFC 7662 endpoint, under the issuer.
	introspectPath = "/v1/introspect"
	// maxIntrospectionResponse bounds an introspection response.
	maxIntrospectionResponse = 64 << 10
)

// IntrospectionConfig configures an Introspection. Zero values mean the
// documented defaults.
type IntrospectionConfig struct {
	// Issuer is sessiond's issuer URL; the endpoint is <Issuer>/v1/introspect.
	// Required unless Endpoint is set.
	Issuer string
	// Endpoint overrides the introspection URL. It must be https, except
	// for loopback hosts.
	Endpoint string
	// ClientID and ClientSecret authenticate this service to sessiond
	// (HTTP Basic, RFC 6749 §2.3.1), as a client registered with
	// `sessiond client add`. Required.
	ClientID, ClientSecret string
	// HTTPClient makes the requests. Default: a client with a 10 s timeout
	// that never follows a redirect from https to http.
	HTTPClient *http.Client
	// InsecureAllowHTTP allows a plain-http endpoint on a non-loopback host;
	// the client secret and every token then cross the network in clear.
	// Default false.
	InsecureAllowHTTP bool
	// CacheTTL is how long an "active" answer is reused for the same jti,
	// never beyond the token's exp. Default 10s; negative means ask every
	// time. "Inactive" answers are final and kept until the token expires.
	CacheTTL time.Duration
	// MaxCacheEntries bounds the cache. Default 10000.
	MaxCacheEntries int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Introspection is a RevocationChecker that asks sessiond's RFC 7662
// introspection endpoint whether a token is still active: POST
// <issuer>/v1/introspect with token=<raw>, authenticated with the client's
// id and secret. A token is revoked when the answer is {"active":false}.
// Anything else — a transport error, a status other than 200, a body that is
// not {"active":<bool>,...}, an answer about another sub or jti — is an
// error, so the Verifier fails closed. Answers are cached by issuer and jti
// (see CacheTTL). Introspection is safe for concurrent use.
type Introspection struct {
	endpoint string
	id       string
	secret   string
	client   *http.Client
	ttl      time.Duration
	maxSize  int
	now      func() time.Time

	mu    sync.Mutex
	cache map[string]introspectionEntry // guarded by mu
}

type introspectionEntry struct {
	active bool
	until  time.Time
}

var _ RevocationChecker = (*Introspection)(nil)

// NewIntrospection returns an Introspection. It does no I/O. A missing
// endpoint or client credentials, or a plain-http endpoint on a non-loopback
// host (without InsecureAllowHTTP), is an error.
func NewIntrospection(cfg IntrospectionConfig) (*Introspection, error) {
	endpoint := cfg.Endpoint
	if endpoint == "" {
		if cfg.Issuer == "" {
			return nil, errors.New("verifier: introspection: Issuer or Endpoint required")
		}
		endpoint = strings.TrimSuffix(cfg.Issuer, "/") + introspectPath
	}
	if _, err := checkURL("introspection endpoint", endpoint, cfg.InsecureAllowHTTP); err != nil {
		return nil, fmt.Errorf("verifier: introspection: %w", err)
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("verifier: introspection: ClientID and ClientSecret required")
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultIntrospectionCacheTTL
	}
	if cfg.MaxCacheEntries < 0 {
		return nil, errors.New("verifier: introspection: negative MaxCacheEntries")
	}
	if cfg.MaxCacheEntries == 0 {
		cfg.MaxCacheEntries = DefaultIntrospectionCacheSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	client := cfg.HTTPClient
	if client == nil {
		client = defaultHTTPClient()
	}
	return &Introspection{
		endpoint: endpoint, id: cfg.ClientID, secret: cfg.ClientSecret, client: client,
		ttl: cfg.CacheTTL, maxSize: cfg.MaxCacheEntries, now: cfg.Now,
		cache: make(map[string]introspectionEntry),
	}, nil
}

// String describes i without its client secret.
func (i *Introspection) String() string {
	return fmt.Sprintf("verifier.Introspection{Endpoint:%s ClientID:%s}", i.endpoint, i.id)
}

// GoString is String, so %#v does not print the secret either.
func (i *Introspection) GoString() string { return i.String() }

// Revoked asks sessiond whether the verified token raw, with claims c, is
// still active, and reports true when it is not. c.ID (jti) is required.
func (i *Introspection) Revoked(ctx context.Context, raw string, c *token.Claims) (bool, error) {
	if c == nil || c.ID == "" {
		return false, errors.New("verifier: introspection: claims without jti")
	}
	key := c.Issuer + "\x00" + c.ID
	now := i.now()
	i.mu.Lock()
	e, ok := i.cache[key]
	i.mu.Unlock()
	if ok && now.Before(e.until) {
		return !e.active, nil
	}
	active, err := i.introspect(ctx, raw, c)
	if err != nil {
		return false, fmt.Errorf("verifier: introspection: %w", err)
	}
	until := c.ExpiresAt.Add(token.MaxLeeway) // inactive is final
	if active {
		until = now.Add(i.ttl)
		if c.ExpiresAt.Before(until) {
			until = c.ExpiresAt
		}
	}
	if now.Before(until) {
		i.store(key, introspectionEntry{active: active, until: until}, now)
	}
	return !active, nil
}

func (i *Introspection) store(key string, e introspectionEntry, now time.Time) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if len(i.cache) >= i.maxSize {
		for k, old := range i.cache {
			if !now.Before(old.until) {
				delete(i.cache, k)
			}
		}
		// Still full: drop arbitrary entries down to 90%. Dropping only
		// costs a request to sessiond later.
		for k := range i.cache {
			if len(i.cache) < i.maxSize*9/10 {
				break
			}
			delete(i.cache, k)
		}
	}
	i.cache[key] = e
}

// introspect makes one RFC 7662 request and returns "active".
func (i *Introspection) introspect(ctx context.Context, raw string, c *token.Claims) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultFetchTimeout)
	defer cancel()
	form := url.Values{"token": {raw}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, i.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 §2.3.1: id and secret are form-encoded before Basic.
	req.SetBasicAuth(url.QueryEscape(i.id), url.QueryEscape(i.secret))
	resp, err := i.client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return false, fmt.Errorf("client %q not accepted (status %d)", i.id, resp.StatusCode)
	default:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return false, fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := readLimited(resp.Body, maxIntrospectionResponse)
	if err != nil {
		return false, err
	}
	var out struct {
		Active *bool  `json:"active"`
		Sub    string `json:"sub"`
		JTI    string `json:"jti"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return false, fmt.Errorf("response: %w", err)
	}
	if out.Active == nil {
		return false, errors.New(`response without "active"`)
	}
	if !*out.Active {
		return false, nil
	}
	if out.Sub != "" && out.Sub != c.Subject {
		return false, errors.New("response is about another subject")
	}
	if out.JTI != "" && out.JTI != c.ID {
		return false, errors.New("response is about another token")
	}
	return true, nil
}
