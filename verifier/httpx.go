package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultFetchTimeout bounds every request this package makes (JWKS,
// discovery, introspection) unless configured otherwise.
const DefaultFetchTimeout = 10 * time.Second

// maxRedirects is how many redirects the default client follows.
const maxRedirects = 5

// defaultHTTPClient is the client used when none is configured: a
// DefaultFetchTimeout timeout, no more than maxRedirects redirects and never
// from https to http.
func defaultHTTPClient() *http.Client {
	return &http.Client{Timeout: DefaultFetchTimeout, CheckRedirect: checkRedirect}
}

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return errors.New("redirect from https to " + req.URL.Scheme + " refused")
	}
	return nil
}

// checkURL validates an endpoint URL: absolute, http or https, with a host,
// no user info and no fragment. Plain http is allowed only for loopback hosts
// (localhost, 127.0.0.0/8, ::1) unless insecure is set: keys or client
// secrets fetched over plain http can be swapped or read on the way.
func checkURL(name, raw string, insecure bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("%s %q: want an absolute http(s) URL", name, raw)
	}
	if u.User != nil || u.Fragment != "" {
		return nil, fmt.Errorf("%s %q: user info and fragments are not allowed", name, raw)
	}
	if u.Scheme == "http" && !insecure && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("%s %q: plain http is allowed only for loopback hosts (set InsecureAllowHTTP to override)", name, raw)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// errTooLarge is returned when a response body exceeds its limit.
var errTooLarge = errors.New("response body too large")

// readLimited reads at most limit bytes of r, and fails if there are more.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w (over %d bytes)", errTooLarge, limit)
	}
	return b, nil
}

// get fetches u with a GET and returns the response (body already read, at
// most limit bytes). Any status but 200 is an error.
func get(ctx context.Context, c *http.Client, u string, limit int64) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, nil, fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	body, err := readLimited(resp.Body, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", u, err)
	}
	return resp, body, nil
}

// discoveryPath is where an issuer publishes its metadata (OIDC Discovery
// 1.0 §4; RFC 8414 uses the same document for sessiond).
const discoveryPath = "/.well-known/openid-configuration"

// maxDiscoverySize bounds the discovery document.
const maxDiscoverySize = 256 << 10

// discoverJWKS reads <issuer>/.well-known/openid-configuration and returns
// its jwks_uri. The document's issuer must equal issuer exactly (OIDC
// Discovery §4.3), so a document served for another issuer is refused.
func discoverJWKS(ctx context.Context, c *http.Client, issuer string, insecure bool) (string, error) {
	if _, err := checkURL("issuer", issuer, insecure); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultFetchTimeout)
	defer cancel()
	_, body, err := get(ctx, c, strings.TrimSuffix(issuer, "/")+discoveryPath, maxDiscoverySize)
	if err != nil {
		return "", err
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("discovery document: %w", err)
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("discovery document names issuer %q, want %q", truncate(doc.Issuer, 256), issuer)
	}
	if doc.JWKSURI == "" {
		return "", errors.New("discovery document has no jwks_uri")
	}
	if _, err := checkURL("jwks_uri", doc.JWKSURI, insecure); err != nil {
		return "", err
	}
	return doc.JWKSURI, nil
}

// truncate shortens s for error messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
