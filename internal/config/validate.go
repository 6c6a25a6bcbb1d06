package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/gateway"
	"github.com/sessiond/sessiond/internal/redact"
	"github.com/sessiond/sessiond/ratelimit"
)

// Validate checks c, which should have its defaults applied
// ([Config.ApplyDefaults]), and returns every problem found joined with
// errors.Join, each naming its key ("config: token.leeway: ..."). It reads
// the TLS files when they are set. It does not change c.
func (c *Config) Validate() error {
	var errs []error
	validate(c, func(key, msg string) {
		errs = append(errs, fmt.Errorf("config: %s: %s", key, msg))
	})
	return errors.Join(errs...)
}

// validate reports each problem of c to report with its dotted key and a
// message that says what to fix. Messages never quote secrets.
func validate(c *Config, report func(key, msg string)) {
	v := validator{report: report}
	v.server(c)
	v.store(c)
	v.cookie(c)
	v.session(c)
	v.token(c)
	v.oidc(c)
	v.gateway(c)
	v.ratelimit(c)
	v.password(c)
	v.tls(c)
	v.http(c)
	v.branding(c)
	v.positive("mfa.reauth_window", c.MFA.ReauthWindow)
	v.mail(c)
}

type validator struct {
	report func(key, msg string)
}

func (v validator) errorf(key, format string, args ...any) {
	v.report(key, fmt.Sprintf(format, args...))
}

func (v validator) oneOf(key, val string, allowed ...string) {
	for _, a := range allowed {
		if val == a {
			return
		}
	}
	v.errorf(key, "%q is not one of %s", val, strings.Join(allowed, ", "))
}

// nonNegative is for keys where 0 means something (their `zero` tag).
func (v validator) nonNegative(key string, d Duration) {
	if d.Duration < 0 {
		v.errorf(key, "must not be negative (0 or a duration like 30s)")
	}
}

func (v validator) positive(key string, d Duration) {
	if d.Duration <= 0 {
		v.errorf(key, "must be a positive duration (like 30s or 5m)")
	}
}

func (v validator) server(c *Config) {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		v.errorf("addr", "%q is not HOST:PORT (e.g. 127.0.0.1:8080, or :8080 for every interface)", c.Addr)
	} else {
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			v.errorf("addr", "%q has no valid port (0 to 65535)", c.Addr)
		}
		if host != "" && !validHost(host) {
			v.errorf("addr", "%q has an invalid host (use an IP address or a hostname)", c.Addr)
		}
	}
	if c.Data == "" {
		v.errorf("data", "must not be empty (a directory, e.g. ./sessiond-data)")
	}
	// A base URL derived from a port-0 address is completed by the server
	// once it has bound its port.
	if c.BaseURL != "" && c.BaseURL != deriveBaseURL(c.Addr, c.TLS.Cert != "") {
		if u, ok := httpURL(c.BaseURL); !ok {
			v.errorf("base_url", "%q is not an absolute http(s) URL (e.g. https://auth.example.com)", redact.URL(c.BaseURL))
		} else if u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.ForceQuery {
			v.errorf("base_url", "%q must not have user info, a query or a fragment", redact.URL(c.BaseURL))
		}
	}
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "json", "text")
}

// httpURL parses an absolute http or https URL with a host.
func httpURL(s string) (*url.URL, bool) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return nil, false
	}
	if u.Port() != "" {
		if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 {
			return nil, false
		}
	}
	if h := u.Hostname(); h == "" || !validHost(h) {
		return nil, false
	}
	return u, true
}

var hostLabel = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

// validHost reports whether h is an IP address or a DNS hostname.
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	return validHostname(h)
}

func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for l := range strings.SplitSeq(strings.TrimSuffix(h, "."), ".") {
		if !hostLabel.MatchString(l) && l != "_" {
			return false
		}
	}
	return true
}

func (v validator) store(c *Config) {
	if scheme, ok := v.storeURL("store.users", c.Store.Users); ok && strings.HasPrefix(scheme, "redis") {
		v.errorf("store.users", "%q is Redis, which holds sessions only; use sqlite: or postgres:// for users", redact.URL(c.Store.Users))
	}
	v.storeURL("store.sessions", c.Store.Sessions)
	for _, k := range []struct{ key, val string }{{"store.users", c.Store.Users}, {"store.sessions", c.Store.Sessions}} {
		if strings.EqualFold(k.val, "memory:") && !c.Dev {
			v.errorf(k.key, "memory: keeps nothing across restarts and is allowed only with dev (use sqlite:PATH)")
		}
	}
	v.oneOf("store.migrate", c.Store.Migrate, "auto", "off")
	if c.Store.Redis.Prefix == "" {
		v.errorf("store.redis.prefix", "must not be empty")
	}
	if r := c.Store.Redis.RevocationReplicas; r != "auto" && r != "off" {
		if n, err := strconv.Atoi(r); err != nil || n < 1 {
			v.errorf("store.redis.revocation_replicas", "%q: must be auto, off or a number of replicas (1 or more)", r)
		}
	}
	if d := c.Store.Redis.RevocationTimeout; d.Duration <= 0 || d.Duration > 10*time.Second {
		v.errorf("store.redis.revocation_timeout", "%v: must be more than 0 and at most 10s", d.Duration)
	}
}

// storeURL checks a store URL and returns its lower-cased scheme.
func (v validator) storeURL(key, s string) (string, bool) {
	shown := redact.URL(s)
	scheme, rest, found := strings.Cut(s, ":")
	scheme = strings.ToLower(scheme)
	if !found {
		scheme = ""
	}
	switch scheme {
	case "memory":
		if rest != "" {
			v.errorf(key, "%q: the memory store takes no path (write memory:)", shown)
			return scheme, false
		}
	case "sqlite", "bolt":
		if rest == "" {
			v.errorf(key, "%q has no path (write %s:PATH, e.g. %s:/var/lib/sessiond/sessiond.db)", shown, scheme, scheme)
			return scheme, false
		}
	case "redis", "rediss", "postgres", "postgresql":
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || !strings.HasPrefix(rest, "//") {
			v.errorf(key, "%q is not a %s:// URL with a host (e.g. %s)", shown, scheme, storeExamples[scheme])
			return scheme, false
		}
	case "redis+cluster", "rediss+cluster":
		if !validCluster(rest) {
			v.errorf(key, "%q is not %s://HOST:PORT,HOST:PORT,... (e.g. %s)", shown, scheme, storeExamples["redis+cluster"])
			return scheme, false
		}
	case "redis+sentinel", "rediss+sentinel":
		if !validCluster(rest) || !hasMasterName(rest) {
			v.errorf(key, "%q is not %s://HOST:PORT,HOST:PORT,.../MASTERNAME[/DB] (e.g. %s)", shown, scheme, storeExamples["redis+sentinel"])
			return scheme, false
		}
	default:
		v.errorf(key, "%q has no known scheme (use sqlite:PATH, redis://, rediss://, redis+cluster://, redis+sentinel://, postgres://)", shown)
		return scheme, false
	}
	return scheme, true
}

var storeExamples = map[string]string{
	"redis":          "redis://localhost:6379/0",
	"rediss":         "rediss://redis.internal:6380/0",
	"postgres":       "postgres://sessiond@localhost:5432/sessiond",
	"postgresql":     "postgresql://sessiond@localhost:5432/sessiond",
	"redis+cluster":  "redis+cluster://10.0.0.1:6379,10.0.0.2:6379",
	"redis+sentinel": "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379/mymaster",
}

// hasMasterName checks that "//hosts/NAME[/db][?...]" names a master set.
func hasMasterName(rest string) bool {
	_, path, _ := strings.Cut(strings.TrimPrefix(rest, "//"), "/")
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	name, db, _ := strings.Cut(path, "/")
	if db != "" {
		if _, err := strconv.Atoi(db); err != nil {
			return false
		}
	}
	return name != ""
}

// validCluster checks "//[user:pass@]host:port,host:port[/...][?...]".
func validCluster(rest string) bool {
	hosts, ok := strings.CutPrefix(rest, "//")
	if !ok {
		return false
	}
	if i := strings.IndexAny(hosts, "/?#"); i >= 0 {
		hosts = hosts[:i]
	}
	if i := strings.LastIndex(hosts, "@"); i >= 0 {
		hosts = hosts[i+1:]
	}
	if hosts == "" {
		return false
	}
	for hp := range strings.SplitSeq(hosts, ",") {
		h, p, err := net.SplitHostPort(hp)
		if err != nil || h == "" || !validHost(h) {
			return false
		}
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	return true
}

func (v validator) cookie(c *Config) {
	v.oneOf("cookie.secure", c.Cookie.Secure, "auto", "true", "false")
	d := c.Cookie.Domain
	if d == "" {
		return
	}
	if !validHostname(d) {
		v.errorf("cookie.domain", "%q is not a hostname (e.g. example.com, without scheme, port or path)", d)
		return
	}
	if u, ok := httpURL(c.BaseURL); ok {
		h := strings.ToLower(u.Hostname())
		if h != d && !strings.HasSuffix(h, "."+d) {
			v.errorf("cookie.domain", "%q does not cover base_url's host %q, so browsers would drop the cookie (use %q or a parent domain of it, or set base_url)", d, h, h)
		}
	}
}

func (v validator) session(c *Config) {
	s := c.Session
	v.positive("session.idle_timeout", s.IdleTimeout)
	v.positive("session.absolute_timeout", s.AbsoluteTimeout)
	v.positive("session.touch_interval", s.TouchInterval)
	if s.AbsoluteTimeout.Duration < s.IdleTimeout.Duration {
		v.errorf("session.absolute_timeout", "%s is shorter than session.idle_timeout %s (raise it, or lower session.idle_timeout)", s.AbsoluteTimeout, s.IdleTimeout)
	}
	if s.TouchInterval.Duration >= s.IdleTimeout.Duration && s.IdleTimeout.Duration > 0 {
		v.errorf("session.touch_interval", "%s is not shorter than session.idle_timeout %s (lower it)", s.TouchInterval, s.IdleTimeout)
	}
	if s.MaxPerUser < -1 {
		v.errorf("session.max_per_user", "%d is not allowed (use a positive number, or -1 for no cap)", s.MaxPerUser)
	}
}

func (v validator) token(c *Config) {
	t := c.Token
	v.oneOf("token.alg", t.Alg, tokenAlgs[:]...)
	switch {
	case t.Alg == "HS256" && t.HS256Secret == "":
		v.errorf("token.hs256_secret", "is required when token.alg is HS256 (at least 32 random bytes; prefer the variable %s to the file)", envName("token.hs256_secret"))
	case t.Alg == "HS256" && len(t.HS256Secret) < 32:
		v.errorf("token.hs256_secret", "is too short: HS256 needs at least 32 bytes (e.g. the output of openssl rand -base64 32)")
	case t.Alg != "HS256" && t.HS256Secret != "":
		v.errorf("token.hs256_secret", "is set but token.alg is %s; remove it, or set token.alg to HS256", t.Alg)
	}
	if b, err := decodeKey(t.KeyEncryptionKey.Reveal()); err != nil {
		v.errorf("token.key_encryption_key", "is not base64 (encode exactly 32 random bytes, e.g. openssl rand -base64 32)")
	} else if b != nil && len(b) != 32 {
		v.errorf("token.key_encryption_key", "decodes to %d bytes; it must be exactly 32 (e.g. openssl rand -base64 32)", len(b))
	}
	v.positive("token.access_ttl", t.AccessTTL)
	v.positive("token.refresh_ttl", t.RefreshTTL)
	v.positive("token.refresh_idle_ttl", t.RefreshIdleTTL)
	v.nonNegative("token.refresh_grace", t.RefreshGrace)
	v.nonNegative("token.leeway", t.Leeway)
	if t.RefreshIdleTTL.Duration > t.RefreshTTL.Duration {
		v.errorf("token.refresh_idle_ttl", "%s is longer than token.refresh_ttl %s (lower it, or raise token.refresh_ttl)", t.RefreshIdleTTL, t.RefreshTTL)
	}
	if t.RefreshGrace.Duration > time.Minute {
		v.errorf("token.refresh_grace", "%s is too long: at most 1m, since a spent refresh token can be replayed for this long", t.RefreshGrace)
	}
	if t.Leeway.Duration > time.Minute {
		v.errorf("token.leeway", "%s is more than the 60s allowed (skew beyond a minute is a clock problem: fix NTP)", t.Leeway)
	}
	if d := t.RotationPeriod.Duration; d != 0 && d < time.Hour {
		v.errorf("token.rotation_period", "%s is too short: use 0 (rotate on request only) or at least 1h", t.RotationPeriod)
	}
	if t.Issuer != c.BaseURL {
		if u, ok := httpURL(t.Issuer); !ok || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			v.errorf("token.issuer", "%q is not an absolute http(s) URL without query or fragment (e.g. https://auth.example.com)", redact.URL(t.Issuer))
		}
	}
	if len(t.Audience) == 0 && t.Issuer != "" {
		v.errorf("token.audience", "must not be empty (set it, or set token.issuer or base_url it defaults from)")
	}
	for i, a := range t.Audience {
		if strings.TrimSpace(a) == "" {
			v.errorf("token.audience", "entry %d is empty; remove it", i+1)
		}
	}
}

var providerName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

func (v validator) oidc(c *Config) {
	seen := map[string]int{}
	for i, p := range c.OIDC.Providers {
		key := fmt.Sprintf("oidc.providers[%d]", i)
		switch {
		case p.Name == "":
			v.errorf(key+".name", "is required (lowercase letters, digits, - and _; it appears in /v1/oidc/{name}/start)")
		case !providerName.MatchString(p.Name):
			v.errorf(key+".name", "%q may hold only lowercase letters, digits, - and _ (it appears in URLs)", p.Name)
		default:
			if j, dup := seen[p.Name]; dup {
				v.errorf(key+".name", "%q is also the name of oidc.providers[%d]; names must differ", p.Name, j)
			}
			seen[p.Name] = i
		}
		if p.Issuer == "" {
			v.errorf(key+".issuer", "is required (the provider's issuer URL, e.g. https://accounts.google.com)")
		} else if u, ok := httpURL(p.Issuer); !ok || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			v.errorf(key+".issuer", "%q is not an absolute https URL without query or fragment", redact.URL(p.Issuer))
		} else if u.Scheme != "https" && !c.Dev && !isLoopback(u.Hostname()) {
			v.errorf(key+".issuer", "%q must use https (http is allowed only for loopback hosts or with dev)", p.Issuer)
		}
		if p.ClientID == "" {
			v.errorf(key+".client_id", "is required (sessiond's client id at the provider)")
		}
		hasOpenID := false
		for _, s := range p.Scopes {
			hasOpenID = hasOpenID || s == "openid"
		}
		if !hasOpenID {
			v.errorf(key+".scopes", "must include openid")
		}
		for _, cl := range []struct{ key, val string }{{"email", p.Claims.Email}, {"roles", p.Claims.Roles}, {"org_id", p.Claims.OrgID}} {
			if strings.TrimSpace(cl.val) == "" {
				v.errorf(key+".claims."+cl.key, "must not be empty")
			}
		}
	}
}

func isLoopback(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}

func (v validator) gateway(c *Config) {
	for i, h := range c.Gateway.AllowedRedirectHosts {
		name, wild := strings.CutPrefix(h, "*.")
		if !validHost(name) || (wild && !strings.Contains(strings.Trim(name, "."), ".")) {
			v.errorf("gateway.allowed_redirect_hosts", "entry %d, %q, is not a hostname or *.domain (no scheme, port or path; e.g. app.example.com or *.example.com)", i+1, h)
		}
	}
	if _, err := gateway.Compile(c.Gateway.Spec()); err != nil {
		joined, _ := err.(interface{ Unwrap() []error })
		for _, e := range joined.Unwrap() {
			if fe, ok := e.(*gateway.FieldError); ok {
				v.errorf(fe.Key, "%s", fe.Msg)
			}
		}
	}
	for i, r := range c.Gateway.Routes {
		for _, a := range c.Token.Audience {
			if r.Name != "" && r.Name == a {
				v.errorf(fmt.Sprintf("gateway.routes[%d].name", i), "%q is also in token.audience; an internal token for the upstream must not be usable at sessiond", r.Name)
			}
		}
	}
}

func (v validator) ratelimit(c *Config) {
	r := c.RateLimit
	if r.LoginPerIP.N <= 0 || r.LoginPerIP.Per <= 0 {
		v.errorf("ratelimit.login_per_ip", "must be a rate N/duration with N > 0 (e.g. 100/1m)")
	}
	if r.LoginPerAccount.N <= 0 || r.LoginPerAccount.Per <= 0 {
		v.errorf("ratelimit.login_per_account", "must be a rate N/duration with N > 0 (e.g. 10/1m)")
	}
	switch {
	case r.LockoutAfter < 1:
		v.errorf("ratelimit.lockout_after", "%d is not allowed (use 1 to 100)", r.LockoutAfter)
	case r.LockoutAfter > 100:
		v.errorf("ratelimit.lockout_after", "%d is more than 100 (NIST SP 800-63B allows at most 100 consecutive failures)", r.LockoutAfter)
	}
	v.positive("ratelimit.lockout_duration", r.LockoutDuration)
	for _, k := range []struct {
		key  string
		rate ratelimit.Rate
	}{{"ratelimit.signup_per_ip", r.SignupPerIP}, {"ratelimit.recovery_per_ip", r.RecoveryPerIP},
		{"ratelimit.recovery_per_email", r.RecoveryPerEmail}} {
		if k.rate.N <= 0 || k.rate.Per <= 0 {
			v.errorf(k.key, "must be a rate N/duration with N > 0 (e.g. 10/1h)")
		}
	}
}

func (v validator) password(c *Config) {
	p := c.Password
	const maxMemory = 4 << 20 // 4 GiB in KiB
	switch {
	case p.MemoryKiB < 19456:
		v.errorf("password.memory_kib", "%d is below the minimum 19456 (19 MiB, OWASP's floor for Argon2id); raise it", p.MemoryKiB)
	case p.MemoryKiB > maxMemory:
		v.errorf("password.memory_kib", "%d is above the maximum %d (4 GiB)", p.MemoryKiB, maxMemory)
	}
	switch {
	case p.Time < 2:
		v.errorf("password.time", "%d is below the minimum 2; raise it", p.Time)
	case p.Time > 100:
		v.errorf("password.time", "%d is above the maximum 100", p.Time)
	}
	if p.Threads < 1 || p.Threads > 255 {
		v.errorf("password.threads", "%d is not allowed (use 1 to 255)", p.Threads)
	}
	if p.MaxConcurrent < 0 {
		v.errorf("password.max_concurrent", "%d is not allowed (use a positive number, or 0 for the number of CPUs)", p.MaxConcurrent)
	}
}

func (v validator) tls(c *Config) {
	if c.TLS.HSTSMaxAge.Duration%time.Second != 0 {
		v.errorf("tls.hsts_max_age", "%s is not allowed (use whole seconds, or 0s to send no Strict-Transport-Security)", c.TLS.HSTSMaxAge)
	}
	cert, key := c.TLS.Cert, c.TLS.Key
	switch {
	case cert == "" && key == "":
		return
	case key == "":
		v.errorf("tls.key", "is empty but tls.cert is set; set both (PEM files) or neither")
		return
	case cert == "":
		v.errorf("tls.cert", "is empty but tls.key is set; set both (PEM files) or neither")
		return
	}
	okCert := v.file("tls.cert", cert)
	okKey := v.file("tls.key", key)
	if okCert && okKey {
		if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
			v.errorf("tls.cert", "%q and tls.key %q are not a usable PEM certificate and matching key: %v", cert, key, err)
		}
	}
}

func (v validator) file(key, path string) bool {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		v.errorf(key, "%q does not exist (give the path of a PEM file)", path)
	case err != nil:
		v.errorf(key, "%q cannot be read: %v", path, err)
	case fi.IsDir():
		v.errorf(key, "%q is a directory (give the path of a PEM file)", path)
	default:
		return true
	}
	return false
}

func (v validator) http(c *Config) {
	h := c.HTTP
	v.positive("http.read_header_timeout", h.ReadHeaderTimeout)
	v.positive("http.read_timeout", h.ReadTimeout)
	v.positive("http.write_timeout", h.WriteTimeout)
	v.positive("http.idle_timeout", h.IdleTimeout)
	v.positive("http.shutdown_timeout", h.ShutdownTimeout)
	if h.MaxHeaderBytes < 4096 || h.MaxHeaderBytes > 1<<20 {
		v.errorf("http.max_header_bytes", "%d is not allowed (use 4096 to 1048576)", h.MaxHeaderBytes)
	}
}

var hexColor = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$`)

func (v validator) branding(c *Config) {
	b := c.Branding
	if strings.TrimSpace(b.Name) == "" {
		v.errorf("branding.name", "must not be empty")
	}
	if l := b.LogoURL; l != "" {
		isPath := strings.HasPrefix(l, "/") && !strings.HasPrefix(l, "//") && !strings.ContainsAny(l, "\\\x00")
		if _, isURL := httpURL(l); !isPath && !isURL {
			v.errorf("branding.logo_url", "%q is not an http(s) URL or an absolute path (e.g. /static/logo.svg)", redact.URL(l))
		}
	}
	if b.PrimaryColor != "" && !hexColor.MatchString(b.PrimaryColor) {
		v.errorf("branding.primary_color", "%q is not a CSS hex color (e.g. #1a73e8 or #fff)", b.PrimaryColor)
	}
}

// mail checks mail.*, signup.* and notices.*.
func (v validator) mail(c *Config) {
	m := c.Mail.SMTP
	v.oneOf("mail.smtp.tls", m.TLS, "starttls", "implicit", "none")
	if m.Port < 0 || m.Port > 65535 {
		v.errorf("mail.smtp.port", "%d is not a port (1 to 65535, or 0 for the default of mail.smtp.tls)", m.Port)
	}
	if m.Host != "" {
		if !validHost(strings.Trim(m.Host, "[]")) {
			v.errorf("mail.smtp.host", "%q is not a host name or IP address", m.Host)
		} else if m.TLS == "none" && !loopbackHost(m.Host) {
			v.errorf("mail.smtp.tls", "none (clear text) is allowed only for a relay on a loopback address; %q is not one (use starttls or implicit)", m.Host)
		}
		if c.Mail.From == "" {
			v.errorf("mail.from", "is required when mail.smtp.host is set (e.g. \"sessiond <no-reply@example.com>\")")
		}
	}
	v.positive("mail.retry_min_backoff", c.Mail.RetryMinBackoff)
	v.positive("mail.retry_max_backoff", c.Mail.RetryMaxBackoff)
	if c.Mail.RetryMaxBackoff.Duration < c.Mail.RetryMinBackoff.Duration {
		v.errorf("mail.retry_max_backoff", "must not be below mail.retry_min_backoff")
	}
	if m.Password != "" && m.Username == "" {
		v.errorf("mail.smtp.password", "is set without mail.smtp.username")
	}
	if f := c.Mail.From; f != "" {
		if a, err := mail.ParseAddress(f); err != nil || strings.ContainsAny(f, "\r\n") || !strings.Contains(a.Address, "@") {
			v.errorf("mail.from", "%q is not an address (e.g. no-reply@example.com or \"sessiond <no-reply@example.com>\")", f)
		}
	}
	for _, d := range c.Signup.AllowedDomains {
		if !validHostname(d) {
			v.errorf("signup.allowed_domains", "%q is not a domain name (e.g. example.com)", d)
		}
	}
	if c.Signup.Enabled && m.Host == "" && !c.Dev {
		v.errorf("signup.enabled", "needs mail.smtp.host: sign-up mails a verification link")
	}
	if c.Signup.RequireVerifiedEmail && m.Host == "" && !c.Dev {
		v.errorf("signup.require_verified_email", "needs mail.smtp.host: without a relay no user could verify an address")
	}
	v.oneOf("notices.new_device", c.Notices.NewDevice, "on", "off")
	v.oneOf("notices.password_changed", c.Notices.PasswordChanged, "on", "off")
	v.oneOf("notices.email_changed", c.Notices.EmailChanged, "on", "off")
}

// loopbackHost reports whether host is localhost or a loopback IP.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.IsLoopback()
}
