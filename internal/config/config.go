package config

import (
	"encoding/base64"
	"net"
	"net/netip"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/ratelimit"
)

// Environment variables with the [EnvPrefix] that are not configuration keys.
const (
	// EnvPrefix starts the environment variable of every key:
	// token.access_ttl is SESSIOND_TOKEN_ACCESS_TTL.
	EnvPrefix = "SESSIOND_"
	// EnvConfig names the config file when --config is not given; the CLI
	// reads it, Load ignores it.
	EnvConfig = "SESSIOND_CONFIG"
	// EnvTestPrefix starts variables reserved for test harnesses (for
	// example the address of a throwaway database); Load ignores them.
	EnvTestPrefix = "SESSIOND_TEST_"
)

// Config is sessiond's whole configuration. Each field's `yaml` tag is its
// key (nested structs make dotted keys: Token.AccessTTL is
// token.access_ttl) and its `default` tag its default. The zero value of a
// field means the default; [Config.ApplyDefaults] fills them in and [Load]
// returns a Config with every default applied. A number or duration written
// as 0 is never replaced by the default: [Load] keeps it where the field's
// `zero` tag says what 0 means, and refuses it elsewhere.
// docs/configuration.md describes every key.
//
// Print a Config with [Config.String] or [Config.Redacted]: they hide
// secrets and the passwords in store URLs. (Secret fields hide themselves
// from fmt, log/slog and JSON too; store URLs in %v of the struct do not.)
type Config struct {
	// Addr is the HOST:PORT the HTTP server listens on. Default 127.0.0.1:8080.
	Addr string `yaml:"addr" default:"127.0.0.1:8080"`
	// Data is the directory of the embedded store and other local state.
	// Default ./sessiond-data.
	Data string `yaml:"data" default:"./sessiond-data"`
	// BaseURL is the external URL clients reach the server at, such as
	// https://auth.example.com (no query or fragment, no trailing slash).
	// Default: derived from Addr, https when TLS is set (an unspecified
	// host becomes localhost).
	BaseURL string `yaml:"base_url" derived:"http(s)://<addr>"`
	// Dev turns on development conveniences (a demo user at start).
	Dev bool `yaml:"dev"`
	// TrustedProxies lists the addresses (CIDRs, or single IPs read as /32
	// or /128) of reverse proxies whose X-Forwarded-For is believed. Empty
	// (the default): the header is ignored and the peer is the client.
	TrustedProxies []netip.Prefix `yaml:"trusted_proxies"`
	// Log is log.*: level and format.
	Log Log `yaml:"log"`
	// Store is store.*: the storage backends.
	Store Store `yaml:"store"`
	// Cookie is cookie.*: the session cookie's attributes.
	Cookie Cookie `yaml:"cookie"`
	// Session is session.*: browser session lifetimes and caps.
	Session Session `yaml:"session"`
	// Token is token.*: access and refresh tokens and signing keys.
	Token Token `yaml:"token"`
	// OIDC is oidc.*: external OpenID providers for single sign-on.
	OIDC OIDC `yaml:"oidc"`
	// Gateway is gateway.*: forward auth and redirect allow-listing.
	Gateway Gateway `yaml:"gateway"`
	// RateLimit is ratelimit.*: failed-login limits and lockout.
	RateLimit RateLimit `yaml:"ratelimit"`
	// Password is password.*: Argon2id parameters.
	Password Password `yaml:"password"`
	// TLS is tls.*: HTTPS served by sessiond itself.
	TLS TLS `yaml:"tls"`
	// HTTP is http.*: the HTTP server's timeouts and limits.
	HTTP HTTP `yaml:"http"`
	// Admin is admin.*: operator switches.
	Admin Admin `yaml:"admin"`
	// MFA is mfa.*: second factors.
	MFA MFA `yaml:"mfa"`
	// Branding is branding.*: the look of the HTML pages.
	Branding Branding `yaml:"branding"`
	// Mail is mail.*: the SMTP relay and templates of the emails sessiond sends.
	Mail Mail `yaml:"mail"`
	// Signup is signup.*: self-service sign-up and email verification.
	Signup Signup `yaml:"signup"`
	// Notices is notices.*: which security notices are mailed to users.
	Notices Notices `yaml:"notices"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level" default:"info"`
	// Format is json or text. Default json.
	Format string `yaml:"format" default:"json"`
}

// Store selects the storage backends, by URL: sqlite:PATH (embedded; the
// older bolt:PATH opens the same SQLite file), redis://, rediss://,
// redis+cluster://host:port,host:port, rediss+cluster://...,
// redis+sentinel://host:port,host:port/MASTERNAME[/db],
// rediss+sentinel://..., postgres:// or postgresql://.
type Store struct {
	// Users holds users, keys and refresh families; it may not be Redis.
	// Default sqlite:<data>/sessiond.db.
	Users string `yaml:"users" derived:"sqlite:<data>/sessiond.db"`
	// Sessions holds browser sessions. Default: the same as Users.
	Sessions string `yaml:"sessions" derived:"the value of store.users"`
	// Migrate is auto (apply schema migrations at start) or off (refuse to
	// start on an old schema; run sessiond migrate). Default auto.
	Migrate string `yaml:"migrate" default:"auto"`
	// Redis is store.redis.*: settings of the Redis backends.
	Redis Redis `yaml:"redis"`
}

// Redis holds settings of the Redis backends.
type Redis struct {
	// Prefix starts every Redis key sessiond writes. Default "sessiond:".
	Prefix string `yaml:"prefix" default:"sessiond:"`
	// RevocationReplicas is how many replicas must confirm (WAIT) a
	// revocation (logout, ended refresh family, denylisted token) before it
	// counts as done, so that a failover cannot undo it: auto (the default:
	// 1 on Redis Cluster and Sentinel, none on one server), off, or a
	// number. See [Redis.RevocationWait].
	RevocationReplicas string `yaml:"revocation_replicas" default:"auto"`
	// RevocationTimeout bounds that wait. Default 500ms, at most 10s.
	RevocationTimeout Duration `yaml:"revocation_timeout" default:"500ms"`
}

// RevocationWait is RevocationReplicas as redisstore.Options takes it: 0
// for auto, -1 for off, else the number.
func (r Redis) RevocationWait() int {
	switch r.RevocationReplicas {
	case "auto", "":
		return 0
	case "off":
		return -1
	}
	n, _ := strconv.Atoi(r.RevocationReplicas) // validated
	return n
}

// Cookie configures the session cookie.
type Cookie struct {
	// Secure is auto, true or false: whether the cookie carries Secure.
	// auto means true when TLS is on or BaseURL is https. Default auto.
	// Use [Config.CookieSecure] for the effective answer.
	Secure string `yaml:"secure" default:"auto"`
	// Domain is the cookie's Domain attribute; empty (the default) means a
	// host-only cookie. It must cover the host of BaseURL.
	Domain string `yaml:"domain"`
}

// Session configures browser sessions.
type Session struct {
	// IdleTimeout ends a session unused this long. Default 24h.
	IdleTimeout Duration `yaml:"idle_timeout" default:"24h"`
	// AbsoluteTimeout ends a session this long after login, used or not;
	// at least IdleTimeout. Default 720h (30 days).
	AbsoluteTimeout Duration `yaml:"absolute_timeout" default:"720h"`
	// MaxPerUser caps a user's live sessions; a login past the cap ends the
	// user's oldest session. Default 100; -1 means no cap.
	MaxPerUser int `yaml:"max_per_user" default:"100"`
	// TouchInterval is how stale a session's last-seen time may get before
	// a request writes it again; less than IdleTimeout. Default 1m.
	TouchInterval Duration `yaml:"touch_interval" default:"1m"`
}

// Token configures access and refresh tokens.
type Token struct {
	// Issuer is the iss claim and the OpenID issuer. Default: BaseURL.
	Issuer string `yaml:"issuer" derived:"the value of base_url"`
	// Audience is the aud claim of access tokens: one or more strings.
	// Default: [Issuer].
	Audience []string `yaml:"audience" derived:"the value of token.issuer"`
	// Alg is the signing algorithm: EdDSA, ES256, RS256 or HS256.
	// Default EdDSA.
	Alg string `yaml:"alg" default:"EdDSA"`
	// HS256Secret is the HMAC key, at least 32 bytes; required when Alg is
	// HS256 and refused otherwise.
	HS256Secret Secret `yaml:"hs256_secret"`
	// KeyEncryptionKey, base64 of 32 bytes, seals private signing keys kept
	// in a shared store. Optional; see [Token.KeyEncryptionKeyBytes].
	KeyEncryptionKey Secret `yaml:"key_encryption_key"`
	// AccessTTL is the lifetime of access tokens. Default 15m.
	AccessTTL Duration `yaml:"access_ttl" default:"15m"`
	// RefreshTTL is the lifetime of a refresh family. Default 720h.
	RefreshTTL Duration `yaml:"refresh_ttl" default:"720h"`
	// RefreshIdleTTL ends a refresh family unused this long; at most
	// RefreshTTL. Default 168h.
	RefreshIdleTTL Duration `yaml:"refresh_idle_ttl" default:"168h"`
	// RefreshGrace is how long a spent refresh token may be presented again
	// (concurrent retries) before its family is revoked; at most 1m.
	// Default 10s; 0 means none.
	RefreshGrace Duration `yaml:"refresh_grace" default:"10s" zero:"no grace: any second use revokes the family"`
	// Leeway is the clock skew allowed when verifying tokens; at most 60s.
	// Default 30s; 0 means none.
	Leeway Duration `yaml:"leeway" default:"30s" zero:"no leeway"`
	// RotationPeriod makes a new signing key this often; 0 (the default)
	// means only on request. At least 1h when set.
	RotationPeriod Duration `yaml:"rotation_period" default:"0s" zero:"rotate only on request"`
}

// KeyEncryptionKeyBytes returns the decoded KeyEncryptionKey, or nil when it
// is not set. After a successful [Load] or [Config.Validate] it is 32 bytes.
func (t *Token) KeyEncryptionKeyBytes() []byte {
	b, err := decodeKey(t.KeyEncryptionKey.Reveal())
	if err != nil {
		return nil
	}
	return b
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, base64.CorruptInputError(0)
}

// OIDC configures single sign-on with external OpenID providers.
type OIDC struct {
	// Providers are the OpenID providers users may log in with, each at
	// /v1/oidc/{name}/start. Config file only.
	Providers []OIDCProvider `yaml:"providers"`
}

// OIDCProvider is one external OpenID provider.
type OIDCProvider struct {
	// Name identifies the provider in URLs: lowercase letters, digits, - and _.
	Name string `yaml:"name"`
	// Issuer is the provider's issuer URL (its discovery document is at
	// Issuer + /.well-known/openid-configuration).
	Issuer string `yaml:"issuer"`
	// ClientID is sessiond's client id at the provider.
	ClientID string `yaml:"client_id"`
	// ClientSecret is sessiond's client secret at the provider (empty for a
	// public client).
	ClientSecret Secret `yaml:"client_secret"`
	// Scopes are requested at login; they must include openid.
	// Default openid, email, profile.
	Scopes []string `yaml:"scopes" default:"openid,email,profile"`
	// Claims names the claims (ID token, else UserInfo) that carry user
	// attributes.
	Claims OIDCClaims `yaml:"claims"`
}

// OIDCClaims names the claims of an external ID token that sessiond reads.
type OIDCClaims struct {
	// Email is the claim with the user's email. Default email.
	Email string `yaml:"email" default:"email"`
	// Roles is the claim with the user's roles (a list). Default roles.
	Roles string `yaml:"roles" default:"roles"`
	// OrgID is the claim with the user's organisation. Default org_id.
	OrgID string `yaml:"org_id" default:"org_id"`
}

// Gateway configures forward authentication (/v1/authz), the built-in
// reverse proxy and redirects. docs/gateway.md explains them.
type Gateway struct {
	// AllowedRedirectHosts are the hosts rd= and return_to= may send a
	// browser to after login, beside BaseURL's own host: hostnames, each
	// optionally with a leading "*." that matches any subdomain.
	AllowedRedirectHosts []string `yaml:"allowed_redirect_hosts"`
	// Policies decide who may reach what, by host, path prefix and method;
	// the first policy that matches a request decides it, and a request
	// no policy matches needs a valid credential. Config file only.
	Policies []GatewayPolicy `yaml:"policies"`
	// Routes are the path prefixes sessiond itself proxies to upstream
	// services, with the caller's identity attached. Config file only.
	Routes []GatewayRoute `yaml:"routes"`
	// CaseInsensitivePaths matches path prefixes of policies and routes
	// without regard to ASCII case, for upstreams that fold case. Default
	// false.
	CaseInsensitivePaths bool `yaml:"case_insensitive_paths"`
}

// GatewayPolicy is one rule of gateway.policies.
type GatewayPolicy struct {
	// Host limits the policy to one host (app.example.com) or to every
	// name below a domain (*.example.com); empty: every host.
	Host string `yaml:"host"`
	// PathPrefix limits the policy to a path and the paths below it, whole
	// segments only (/admin matches /admin/x, not /administrator); empty:
	// every path.
	PathPrefix string `yaml:"path_prefix"`
	// Methods limits the policy to these HTTP methods; empty: every method.
	Methods []string `yaml:"methods"`
	// Action is authenticated, public or deny. Default authenticated.
	Action string `yaml:"action" default:"authenticated"`
	// Roles, when set, requires any one of them (authenticated only).
	Roles []string `yaml:"roles"`
	// Org, when set, requires the caller's organisation to be this one
	// (authenticated only).
	Org string `yaml:"org"`
	// Credentials are the credentials that count: any, cookie or bearer
	// (authenticated only). Default any.
	Credentials string `yaml:"credentials" default:"any"`
}

// GatewayRoute is one prefix of the built-in reverse proxy.
type GatewayRoute struct {
	// Name identifies the route in logs, and is the aud of its internal
	// token; empty: the upstream URL.
	Name string `yaml:"name"`
	// PathPrefix is the path (and the paths below it) sessiond proxies;
	// required; it may not cover sessiond's own paths.
	PathPrefix string `yaml:"path_prefix"`
	// Upstream is the http(s) URL requests go to; required.
	Upstream string `yaml:"upstream"`
	// StripPrefix removes PathPrefix from the path sent upstream.
	StripPrefix bool `yaml:"strip_prefix"`
	// InternalJWT sends the upstream a signed token for the caller,
	// valid for 60 seconds, in X-Internal-Token.
	InternalJWT bool `yaml:"internal_jwt"`
	// Timeout bounds the wait for the upstream's response headers.
	// Default 30s.
	Timeout Duration `yaml:"timeout" default:"30s"`
	// Host limits the route to one host or *.domain; empty: every host.
	Host string `yaml:"host"`
	// Methods limits the route to these HTTP methods; empty: every method.
	Methods []string `yaml:"methods"`
	// Action is authenticated, public or deny. Default authenticated.
	Action string `yaml:"action" default:"authenticated"`
	// Roles, when set, requires any one of them.
	Roles []string `yaml:"roles"`
	// Org, when set, requires this organisation.
	Org string `yaml:"org"`
	// Credentials are any, cookie or bearer. Default any.
	Credentials string `yaml:"credentials" default:"any"`
}

// RateLimit configures the limits on failed logins.
type RateLimit struct {
	// LoginPerIP is the failed logins allowed per client IP. Default 100/1m.
	LoginPerIP ratelimit.Rate `yaml:"login_per_ip" default:"100/1m"`
	// LoginPerAccount is the failed logins allowed per account. Default 10/1m.
	LoginPerAccount ratelimit.Rate `yaml:"login_per_account" default:"10/1m"`
	// LockoutAfter locks an account after this many consecutive failed
	// logins; at most 100. Default 100.
	LockoutAfter int `yaml:"lockout_after" default:"100"`
	// LockoutDuration is how long a lockout lasts. Default 1h.
	LockoutDuration Duration `yaml:"lockout_duration" default:"1h"`
	// SignupPerIP is the sign-ups allowed per client IP. Default 10/1h.
	SignupPerIP ratelimit.Rate `yaml:"signup_per_ip" default:"10/1h"`
	// RecoveryPerIP is the recovery and verification mails asked for per
	// client IP. Default 20/1h.
	RecoveryPerIP ratelimit.Rate `yaml:"recovery_per_ip" default:"20/1h"`
	// RecoveryPerEmail is the recovery and verification mails asked for per
	// address. Default 3/1h.
	RecoveryPerEmail ratelimit.Rate `yaml:"recovery_per_email" default:"3/1h"`
}

// Password configures Argon2id password hashing for new hashes.
type Password struct {
	// MemoryKiB is the memory per hash in KiB; at least 19456 (OWASP).
	// Default 19456.
	MemoryKiB int `yaml:"memory_kib" default:"19456"`
	// Time is the number of passes; at least 2. Default 2.
	Time int `yaml:"time" default:"2"`
	// Threads is the parallelism of one hash, 1 to 255. Default 1.
	Threads int `yaml:"threads" default:"1"`
	// MaxConcurrent caps hashes computed at once. Default (0): the number
	// of CPUs, filled in by ApplyDefaults.
	MaxConcurrent int `yaml:"max_concurrent" derived:"the number of CPUs" zero:"the number of CPUs"`
}

// TLS makes the server speak HTTPS itself. Set both files or neither.
type TLS struct {
	// Cert is the PEM certificate chain file.
	Cert string `yaml:"cert"`
	// Key is the PEM private key file.
	Key string `yaml:"key"`
	// HSTSMaxAge is the max-age of the Strict-Transport-Security header
	// sent on every response served over TLS; whole seconds, 0s sends
	// none. Default 8760h (one year).
	HSTSMaxAge Duration `yaml:"hsts_max_age" default:"8760h" zero:"no Strict-Transport-Security header"`
	// HSTSIncludeSubdomains adds includeSubDomains to that header. Default
	// false: it binds every subdomain of the host to HTTPS too.
	HSTSIncludeSubdomains bool `yaml:"hsts_include_subdomains"`
}

// HSTS returns the Strict-Transport-Security value for responses served
// over TLS, or "" when none is sent.
func (t *TLS) HSTS() string {
	sec := int64(t.HSTSMaxAge.Duration / time.Second)
	if sec <= 0 {
		return ""
	}
	v := "max-age=" + strconv.FormatInt(sec, 10)
	if t.HSTSIncludeSubdomains {
		v += "; includeSubDomains"
	}
	return v
}

// Enabled reports whether TLS is configured.
func (t *TLS) Enabled() bool { return t.Cert != "" && t.Key != "" }

// HTTP configures the HTTP server (see net/http.Server).
type HTTP struct {
	// ReadHeaderTimeout default 5s.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout" default:"5s"`
	// ReadTimeout default 15s.
	ReadTimeout Duration `yaml:"read_timeout" default:"15s"`
	// WriteTimeout default 30s.
	WriteTimeout Duration `yaml:"write_timeout" default:"30s"`
	// IdleTimeout default 120s.
	IdleTimeout Duration `yaml:"idle_timeout" default:"2m"`
	// MaxHeaderBytes, 4096 to 1048576. Default 16384.
	MaxHeaderBytes int `yaml:"max_header_bytes" default:"16384"`
	// ShutdownTimeout is how long a graceful shutdown waits for requests
	// in flight. Default 15s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout" default:"15s"`
}

// Admin holds operator switches.
type Admin struct {
	// Pprof serves net/http/pprof under /debug/pprof/ to admins. Default false.
	Pprof bool `yaml:"pprof"`
}

// MFA configures second factors (authenticator apps, recovery codes).
type MFA struct {
	// ReauthWindow is how recent a second factor must be, for a user who has
	// one, to remove a factor, get new recovery codes, change the password
	// or sign out everywhere. Default 10m.
	ReauthWindow Duration `yaml:"reauth_window" default:"10m"`
}

// Branding styles the HTML pages.
type Branding struct {
	// Name is the product name shown on pages. Default sessiond.
	Name string `yaml:"name" default:"sessiond"`
	// LogoURL is an http(s) URL or an absolute path for the logo; empty: none.
	LogoURL string `yaml:"logo_url"`
	// PrimaryColor is a CSS hex color (#rgb, #rgba, #rrggbb or #rrggbbaa);
	// empty: the built-in theme's.
	PrimaryColor string `yaml:"primary_color"`
}

// Mail configures the emails sessiond sends (verification, recovery,
// notices). With no mail.smtp.host nothing is sent, except in dev, where
// messages are logged with their links.
type Mail struct {
	// SMTP is mail.smtp.*: the relay.
	SMTP SMTP `yaml:"smtp"`
	// From is the sender address, with an optional display name
	// ("sessiond <no-reply@example.com>"); required with mail.smtp.host.
	From string `yaml:"from"`
	// TemplatesDir is a directory whose <kind>.txt and <kind>.html files
	// replace the embedded templates of the same name; empty: none.
	TemplatesDir string `yaml:"templates_dir"`
	// RetryMinBackoff and RetryMaxBackoff bound the wait before a failed
	// mail is tried again (doubling from min, capped at max, half of it
	// jitter). Defaults 30s and 1h.
	RetryMinBackoff Duration `yaml:"retry_min_backoff" default:"30s"`
	RetryMaxBackoff Duration `yaml:"retry_max_backoff" default:"1h"`
}

// SMTP configures the relay mail is sent through.
type SMTP struct {
	// Host is the relay's host name or IP; empty: no relay.
	Host string `yaml:"host"`
	// Port is the relay's port. Default (0): 587 for starttls, 465 for
	// implicit, 25 for none.
	Port int `yaml:"port" zero:"587, 465 or 25 by mail.smtp.tls"`
	// TLS is starttls, implicit or none (allowed only for a loopback
	// relay). Default starttls.
	TLS string `yaml:"tls" default:"starttls"`
	// Username, when set, authenticates to the relay with Password.
	Username string `yaml:"username"`
	// Password is the relay password (secret: never printed).
	Password Secret `yaml:"password"`
}

// Signup configures self-service sign-up.
type Signup struct {
	// Enabled opens POST /v1/signup. Default false.
	Enabled bool `yaml:"enabled"`
	// AllowedDomains, when set, limits sign-up to addresses of these
	// domains (exact, lower case); empty: any domain.
	AllowedDomains []string `yaml:"allowed_domains"`
	// RequireVerifiedEmail refuses login to users whose email is not
	// verified. Default false.
	RequireVerifiedEmail bool `yaml:"require_verified_email"`
}

// Notices turns the security notices mailed to users on or off.
type Notices struct {
	// NewDevice is on or off: a mail on a sign-in from an unseen device.
	// Default on.
	NewDevice string `yaml:"new_device" default:"on"`
	// PasswordChanged is on or off: a mail when the password changes.
	// Default on.
	PasswordChanged string `yaml:"password_changed" default:"on"`
	// EmailChanged is on or off: a mail to the old address when the email
	// changes. Default on.
	EmailChanged string `yaml:"email_changed" default:"on"`
}

// Default returns the defaults of every key with a fixed default. Keys whose
// default derives from others (base_url, store.users, store.sessions,
// token.issuer, token.audience, password.max_concurrent) are left empty:
// call [Config.ApplyDefaults] after changing the Config, as [Load] does.
func Default() Config {
	var c Config
	applyStatic(reflect.ValueOf(&c).Elem())
	return c
}

// ApplyDefaults sets every zero field to its default, first the fixed ones
// and then those derived from other keys, and normalises spelling (lower
// case enums, canonical token.alg). It does not validate; it is idempotent.
func (c *Config) ApplyDefaults() {
	applyStatic(reflect.ValueOf(c).Elem())
	normalize(c)
	if c.Store.Users == "" {
		c.Store.Users = "sqlite:" + filepath.Join(c.Data, "sessiond.db")
	}
	if c.Store.Sessions == "" {
		c.Store.Sessions = c.Store.Users
	}
	if c.BaseURL == "" {
		c.BaseURL = deriveBaseURL(c.Addr, c.TLS.Cert != "")
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.Token.Issuer == "" {
		c.Token.Issuer = c.BaseURL
	}
	if len(c.Token.Audience) == 0 && c.Token.Issuer != "" {
		c.Token.Audience = []string{c.Token.Issuer}
	}
	if c.Password.MaxConcurrent == 0 {
		c.Password.MaxConcurrent = runtime.NumCPU()
	}
}

// deriveBaseURL makes the default base_url from addr: http(s)://host:port,
// with localhost for an unspecified host and no port when it is the
// scheme's default. It returns "" when addr is not HOST:PORT.
func deriveBaseURL(addr string, tls bool) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		if strings.Contains(host, ":") {
			return scheme + "://[" + host + "]"
		}
		return scheme + "://" + host
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// CookieSecure reports whether the session cookie carries the Secure
// attribute: cookie.secure true or false, or for auto, whether TLS is on or
// base_url is https.
func (c *Config) CookieSecure() bool {
	switch strings.ToLower(c.Cookie.Secure) {
	case "true":
		return true
	case "false":
		return false
	}
	return c.TLS.Enabled() || strings.HasPrefix(strings.ToLower(c.BaseURL), "https://")
}

// normalize lower-cases the enum keys and spells token.alg canonically, so
// consumers compare against one spelling.
func normalize(c *Config) {
	c.Log.Level = strings.ToLower(c.Log.Level)
	c.Log.Format = strings.ToLower(c.Log.Format)
	c.Store.Migrate = strings.ToLower(c.Store.Migrate)
	c.Cookie.Secure = strings.ToLower(c.Cookie.Secure)
	c.Cookie.Domain = strings.ToLower(strings.TrimPrefix(c.Cookie.Domain, "."))
	for _, a := range tokenAlgs {
		if strings.EqualFold(c.Token.Alg, a) {
			c.Token.Alg = a
		}
	}
	for i, h := range c.Gateway.AllowedRedirectHosts {
		c.Gateway.AllowedRedirectHosts[i] = strings.ToLower(h)
	}
	for i, d := range c.Signup.AllowedDomains {
		c.Signup.AllowedDomains[i] = strings.ToLower(strings.TrimPrefix(d, "@"))
	}
	c.Mail.SMTP.TLS = strings.ToLower(c.Mail.SMTP.TLS)
	c.Notices.NewDevice = strings.ToLower(c.Notices.NewDevice)
	c.Notices.PasswordChanged = strings.ToLower(c.Notices.PasswordChanged)
	c.Notices.EmailChanged = strings.ToLower(c.Notices.EmailChanged)
}

// tokenAlgs are the signing algorithms token.alg accepts.
var tokenAlgs = [...]string{"EdDSA", "ES256", "RS256", "HS256"}
