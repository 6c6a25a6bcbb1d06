package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sessiond/sessiond/ratelimit"
)

var cmpOpts = cmp.Options{cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })}

// writeConfig writes a sessiond.yaml in a fresh directory and returns its path.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sessiond.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustLoad(t *testing.T, yaml string, env []string, flags map[string]string) *Config {
	t.Helper()
	path := ""
	if yaml != "" {
		path = writeConfig(t, yaml)
	}
	c, err := Load(path, env, flags)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func d(s string) Duration {
	v, err := parseDuration(s)
	if err != nil {
		panic(err)
	}
	return Duration{v}
}

func wantDefaults() Config {
	return Config{
		Addr:    "127.0.0.1:8080",
		Data:    "./sessiond-data",
		BaseURL: "http://127.0.0.1:8080",
		Log:     Log{Level: "info", Format: "json"},
		Store: Store{
			Users:    "sqlite:sessiond-data/sessiond.db",
			Sessions: "sqlite:sessiond-data/sessiond.db",
			Migrate:  "auto",
			Redis:    Redis{Prefix: "sessiond:", RevocationReplicas: "auto", RevocationTimeout: Duration{500 * time.Millisecond}},
		},
		Cookie:  Cookie{Secure: "auto"},
		Session: Session{IdleTimeout: d("24h"), AbsoluteTimeout: d("720h"), MaxPerUser: 100, TouchInterval: d("1m")},
		Token: Token{
			Issuer: "http://127.0.0.1:8080", Audience: []string{"http://127.0.0.1:8080"}, Alg: "EdDSA",
			AccessTTL: d("15m"), RefreshTTL: d("720h"), RefreshIdleTTL: d("168h"), RefreshGrace: d("10s"), Leeway: d("30s"),
		},
		RateLimit: RateLimit{
			LoginPerIP:      ratelimit.Rate{N: 100, Per: time.Minute},
			LoginPerAccount: ratelimit.Rate{N: 10, Per: time.Minute},
			LockoutAfter:    100, LockoutDuration: d("1h"),
			SignupPerIP:      ratelimit.Rate{N: 10, Per: time.Hour},
			RecoveryPerIP:    ratelimit.Rate{N: 20, Per: time.Hour},
			RecoveryPerEmail: ratelimit.Rate{N: 3, Per: time.Hour},
		},
		Password: Password{MemoryKiB: 19456, Time: 2, Threads: 1, MaxConcurrent: runtime.NumCPU()},
		TLS:      TLS{HSTSMaxAge: d("8760h")},
		HTTP: HTTP{
			ReadHeaderTimeout: d("5s"), ReadTimeout: d("15s"), WriteTimeout: d("30s"), IdleTimeout: d("120s"),
			MaxHeaderBytes: 16384, ShutdownTimeout: d("15s"),
		},
		MFA:      MFA{ReauthWindow: d("10m")},
		Branding: Branding{Name: "sessiond"},
		Mail:     Mail{SMTP: SMTP{TLS: "starttls"}, RetryMinBackoff: d("30s"), RetryMaxBackoff: d("1h")},
		Notices:  Notices{NewDevice: "on", PasswordChanged: "on", EmailChanged: "on"},
	}
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, "", nil, nil)
	if diff := cmp.Diff(wantDefaults(), *c, cmpOpts); diff != "" {
		t.Errorf("Load with no input (-want +got):\n%s", diff)
	}
	// An empty file, a file of comments and an explicit null document are no input too.
	for _, src := range []string{"\n", "# nothing\n", "---\n", "~\n"} {
		c := mustLoad(t, src, nil, nil)
		if diff := cmp.Diff(wantDefaults(), *c, cmpOpts); diff != "" {
			t.Errorf("Load(%q) (-want +got):\n%s", src, diff)
		}
	}
}

func TestDefaultThenApplyDefaultsIsValid(t *testing.T) {
	t.Parallel()
	c := Default()
	if c.Addr != "127.0.0.1:8080" || c.Token.AccessTTL.Duration != 15*time.Minute || c.Store.Users != "" {
		t.Errorf("Default() = %+v; want fixed defaults and empty derived keys", c)
	}
	c.Data = "/var/lib/sessiond"
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		t.Errorf("Validate after ApplyDefaults: %v", err)
	}
	if c.Store.Users != "sqlite:/var/lib/sessiond/sessiond.db" {
		t.Errorf("store.users = %q; want it derived from data", c.Store.Users)
	}
	before := c.String()
	c.ApplyDefaults()
	if after := c.String(); after != before {
		t.Errorf("ApplyDefaults is not idempotent:\n%s\n---\n%s", before, after)
	}
}

const fullFile = `# every kind of value
addr: 0.0.0.0:9000
data: /var/lib/sessiond
base_url: https://auth.example.com/
dev: yes
trusted_proxies: [10.0.0.0/8, 192.0.2.1, "2001:db8::/32"]
log: {level: DEBUG, format: text}
store:
  users: postgres://sessiond:hunter2@db.internal:5432/sessiond?sslmode=verify-full
  sessions: redis+cluster://10.0.1.1:6379,10.0.1.2:6379
  migrate: off
  redis:
    prefix: "prod:"
cookie:
  secure: true
  domain: .Example.com
session:
  idle_timeout: 8h
  absolute_timeout: 30d
  max_per_user: -1
  touch_interval: 30s
token:
  audience: https://api.example.com
  alg: es256
  key_encryption_key: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
  access_ttl: 5m
  refresh_ttl: 1d12h
  refresh_idle_ttl: 24h
  refresh_grace: 5s
  leeway: 60s
  rotation_period: 720h
oidc:
  providers:
    - name: google
      issuer: https://accounts.google.com
      client_id: abc.apps.googleusercontent.com
      client_secret: oidc-secret-value
    - name: corp
      issuer: https://sso.corp.example
      client_id: sessiond
      scopes: openid, groups
      claims: {roles: groups}
gateway:
  allowed_redirect_hosts:
    - App.example.com
    - "*.tools.example.com"
ratelimit:
  login_per_ip: 50/1h
  login_per_account: 5/m
  lockout_after: 20
  lockout_duration: 15m
password:
  memory_kib: 65536
  time: 3
  threads: 4
  max_concurrent: 8
tls:
  hsts_max_age: 720h
  hsts_include_subdomains: true
http:
  read_header_timeout: 2s
  read_timeout: 10s
  write_timeout: 20s
  idle_timeout: 60s
  max_header_bytes: 8192
  shutdown_timeout: 5s
admin:
  pprof: true
mfa:
  reauth_window: 5m
branding:
  name: Example Login
  logo_url: /static/logo.svg
  primary_color: "#1A73E8"
`

func TestLoadFile(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, fullFile, nil, nil)
	want := Config{
		Addr: "0.0.0.0:9000", Data: "/var/lib/sessiond", BaseURL: "https://auth.example.com", Dev: true,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("2001:db8::/32")},
		Log:            Log{Level: "debug", Format: "text"},
		Store: Store{
			Users:    "postgres://sessiond:hunter2@db.internal:5432/sessiond?sslmode=verify-full",
			Sessions: "redis+cluster://10.0.1.1:6379,10.0.1.2:6379", Migrate: "off", Redis: Redis{Prefix: "prod:", RevocationReplicas: "auto", RevocationTimeout: Duration{500 * time.Millisecond}},
		},
		Cookie:  Cookie{Secure: "true", Domain: "example.com"},
		Session: Session{IdleTimeout: d("8h"), AbsoluteTimeout: d("720h"), MaxPerUser: -1, TouchInterval: d("30s")},
		Token: Token{
			Issuer: "https://auth.example.com", Audience: []string{"https://api.example.com"}, Alg: "ES256",
			KeyEncryptionKey: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
			AccessTTL:        d("5m"), RefreshTTL: d("36h"), RefreshIdleTTL: d("24h"), RefreshGrace: d("5s"), Leeway: d("1m"),
			RotationPeriod: d("720h"),
		},
		OIDC: OIDC{Providers: []OIDCProvider{
			{
				Name: "google", Issuer: "https://accounts.google.com", ClientID: "abc.apps.googleusercontent.com",
				ClientSecret: "oidc-secret-value", Scopes: []string{"openid", "email", "profile"},
				Claims: OIDCClaims{Email: "email", Roles: "roles", OrgID: "org_id"},
			},
			{
				Name: "corp", Issuer: "https://sso.corp.example", ClientID: "sessiond", Scopes: []string{"openid", "groups"},
				Claims: OIDCClaims{Email: "email", Roles: "groups", OrgID: "org_id"},
			},
		}},
		Gateway: Gateway{AllowedRedirectHosts: []string{"app.example.com", "*.tools.example.com"}},
		RateLimit: RateLimit{
			LoginPerIP: ratelimit.Rate{N: 50, Per: time.Hour}, LoginPerAccount: ratelimit.Rate{N: 5, Per: time.Minute},
			LockoutAfter: 20, LockoutDuration: d("15m"),
			SignupPerIP:      ratelimit.Rate{N: 10, Per: time.Hour},
			RecoveryPerIP:    ratelimit.Rate{N: 20, Per: time.Hour},
			RecoveryPerEmail: ratelimit.Rate{N: 3, Per: time.Hour},
		},
		Password: Password{MemoryKiB: 65536, Time: 3, Threads: 4, MaxConcurrent: 8},
		TLS:      TLS{HSTSMaxAge: d("720h"), HSTSIncludeSubdomains: true},
		HTTP: HTTP{
			ReadHeaderTimeout: d("2s"), ReadTimeout: d("10s"), WriteTimeout: d("20s"), IdleTimeout: d("1m"),
			MaxHeaderBytes: 8192, ShutdownTimeout: d("5s"),
		},
		Admin:    Admin{Pprof: true},
		MFA:      MFA{ReauthWindow: d("5m")},
		Branding: Branding{Name: "Example Login", LogoURL: "/static/logo.svg", PrimaryColor: "#1A73E8"},
		Mail:     Mail{SMTP: SMTP{TLS: "starttls"}, RetryMinBackoff: d("30s"), RetryMaxBackoff: d("1h")},
		Notices:  Notices{NewDevice: "on", PasswordChanged: "on", EmailChanged: "on"},
	}
	if diff := cmp.Diff(want, *c, cmpOpts); diff != "" {
		t.Errorf("Load(fullFile) (-want +got):\n%s", diff)
	}
	if got := c.Token.KeyEncryptionKeyBytes(); len(got) != 32 || got[31] != 31 {
		t.Errorf("KeyEncryptionKeyBytes() = %v; want bytes 0..31", got)
	}
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	file := "addr: 127.0.0.1:1001\ndata: /from/file\ntoken:\n  access_ttl: 1m\n  audience: [a, b]\nlog:\n  level: warn\n"
	tests := []struct {
		name  string
		file  string
		env   []string
		flags map[string]string
		check func(*Config) string
	}{
		{"file over defaults", file, nil, nil, func(c *Config) string {
			return fmt.Sprint(c.Addr, c.Data, c.Token.AccessTTL, c.Token.Audience, c.Log.Level)
		}},
		{"env over file", file, []string{
			"SESSIOND_ADDR=127.0.0.1:2002", "SESSIOND_TOKEN_ACCESS_TTL=2m", "SESSIOND_TOKEN_AUDIENCE=x, y ,z", "PATH=/bin",
		}, nil, func(c *Config) string {
			return fmt.Sprint(c.Addr, c.Data, c.Token.AccessTTL, c.Token.Audience, c.Log.Level)
		}},
		{"flags over env", file, []string{"SESSIOND_ADDR=127.0.0.1:2002", "SESSIOND_DATA=/from/env"},
			map[string]string{"addr": "127.0.0.1:3003", "dev": "true"}, func(c *Config) string {
				return fmt.Sprint(c.Addr, c.Data, c.Dev)
			}},
		{"later duplicate env entry wins", "", []string{"SESSIOND_ADDR=127.0.0.1:1", "SESSIOND_ADDR=127.0.0.1:2"}, nil,
			func(c *Config) string { return c.Addr }},
		{"empty env value resets to the default", file, []string{"SESSIOND_TOKEN_ACCESS_TTL=", "SESSIOND_LOG_LEVEL="}, nil,
			func(c *Config) string { return fmt.Sprint(c.Token.AccessTTL, c.Log.Level) }},
		{"empty flag value resets to the default", file, nil, map[string]string{"data": ""},
			func(c *Config) string { return fmt.Sprint(c.Data, " ", c.Store.Users) }},
		{"reserved variables are ignored", "", []string{"SESSIOND_CONFIG=/nope.yaml", "SESSIOND_TEST_POSTGRES=postgres://x", "sessiond_addr=lower", "SESSIOND_NO_EQUALS_SIGN"}, nil,
			func(c *Config) string { return c.Addr }},
		{"memory store with dev", "", []string{"SESSIOND_STORE_USERS=memory:", "SESSIOND_DEV=true"}, nil,
			func(c *Config) string { return c.Store.Users + " " + c.Store.Sessions }},
		{"derived keys follow the overrides", "", []string{"SESSIOND_DATA=/srv/s"}, map[string]string{"addr": "[::]:8443", "tls.cert": "", "base_url": ""},
			func(c *Config) string {
				return fmt.Sprint(c.Store.Sessions, " ", c.BaseURL, " ", c.Token.Issuer, " ", c.Token.Audience)
			}},
	}
	want := map[string]string{
		"file over defaults":                     "127.0.0.1:1001/from/file1m [a b]warn",
		"env over file":                          "127.0.0.1:2002/from/file2m [x y z]warn",
		"flags over env":                         "127.0.0.1:3003/from/envtrue",
		"later duplicate env entry wins":         "127.0.0.1:2",
		"empty env value resets to the default":  "15minfo",
		"empty flag value resets to the default": "./sessiond-data sqlite:sessiond-data/sessiond.db",
		"reserved variables are ignored":         "127.0.0.1:8080",
		"memory store with dev":                  "memory: memory:",
		"derived keys follow the overrides":      "sqlite:/srv/s/sessiond.db http://localhost:8443 http://localhost:8443 [http://localhost:8443]",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := mustLoad(t, tt.file, tt.env, tt.flags)
			if got := tt.check(c); got != want[tt.name] {
				t.Errorf("got %q, want %q", got, want[tt.name])
			}
		})
	}
}

func TestYAMLForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file string
		check      func(*Config) any
		want       any
	}{
		{"audience as one string", "token: {audience: api}", func(c *Config) any { return c.Token.Audience }, []string{"api"}},
		{"list as comma-separated string", "trusted_proxies: 10.0.0.0/8, 127.0.0.1", func(c *Config) any { return fmt.Sprint(c.TrustedProxies) }, "[10.0.0.0/8 127.0.0.1/32]"},
		{"null means default", "session:\n  idle_timeout:\n  absolute_timeout: ~\n", func(c *Config) any { return c.Session.IdleTimeout.String() + c.Session.AbsoluteTimeout.String() }, "24h720h"},
		{"a written zero is kept where it means something", "token: {leeway: 0s, refresh_grace: 0}", func(c *Config) any { return fmt.Sprint(c.Token.Leeway, c.Token.RefreshGrace) }, "0s 0s"},
		{"days", "session: {absolute_timeout: 30d}", func(c *Config) any { return c.Session.AbsoluteTimeout.Duration }, 720 * time.Hour},
		{"anchor and alias", "token:\n  audience: &aud [x, y]\ngateway:\n  allowed_redirect_hosts: *aud\n", func(c *Config) any { return c.Gateway.AllowedRedirectHosts }, []string{"x", "y"}},
		{"merge key, own keys win", "http:\n  <<: {read_timeout: 1s, write_timeout: 2s}\n  write_timeout: 3s\n",
			func(c *Config) any { return fmt.Sprint(c.HTTP.ReadTimeout, c.HTTP.WriteTimeout) }, "1s 3s"},
		{"merge of aliases", "oidc:\n  providers:\n  - &p {name: a, issuer: https://a.example, client_id: c, scopes: [openid, x]}\n  - &q {name: q, issuer: https://q.example, client_id: q}\n  - <<: [*p, *q]\n    name: b\n",
			func(c *Config) any {
				p := c.OIDC.Providers[2]
				return fmt.Sprint(p.Name, p.Issuer, p.ClientID, p.Scopes)
			}, "bhttps://a.examplec[openid x]"},
		{"bool spellings", "dev: on\nadmin: {pprof: \"TRUE\"}", func(c *Config) any { return c.Dev && c.Admin.Pprof }, true},
		{"cookie.secure as a YAML bool", "cookie: {secure: false}", func(c *Config) any { return c.Cookie.Secure }, "false"},
		{"cidr is masked", "trusted_proxies: [10.1.2.3/8]", func(c *Config) any { return c.TrustedProxies[0].String() }, "10.0.0.0/8"},
		{"list of objects with defaults", "oidc:\n  providers:\n  - {name: a, issuer: https://a.example, client_id: c}\n",
			func(c *Config) any { return fmt.Sprint(c.OIDC.Providers[0].Scopes, c.OIDC.Providers[0].Claims) }, "[openid email profile] {email roles org_id}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := mustLoad(t, tt.file, nil, nil)
			if diff := cmp.Diff(tt.want, tt.check(c)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct {
		name    string
		file    string
		env     []string
		flags   map[string]string
		want    []string // each must appear in the error
		notWant []string // none may appear
	}{
		{name: "unknown file key with line", file: "addr: 127.0.0.1:1\ntoken:\n  acess_ttl: 1m\n",
			want: []string{`sessiond.yaml:3: unknown key "token.acess_ttl" (did you mean "token.access_ttl"?)`}},
		{name: "unknown top-level key", file: "adr: x\nfoo: 1\n",
			want: []string{`sessiond.yaml:1: unknown key "adr" (did you mean "addr"?)`, `sessiond.yaml:2: unknown key "foo"` + "\n"}},
		{name: "unknown key inside a list of objects", file: "oidc:\n  providers:\n    - name: a\n      isuer: https://a\n",
			want: []string{`sessiond.yaml:4: unknown key "oidc.providers[0].isuer" (did you mean "oidc.providers[0].issuer"?)`}},
		{name: "dotted key in YAML", file: "token.access_ttl: 1m\n",
			want: []string{`sessiond.yaml:1: unknown key "token.access_ttl" (keys nest in YAML: write token: and put access_ttl: indented under it)`}},
		{name: "unknown env var", env: []string{"SESSIOND_TOKEN_ACESS_TTL=1m"},
			want: []string{"config: env SESSIOND_TOKEN_ACESS_TTL: no key has this variable (did you mean SESSIOND_TOKEN_ACCESS_TTL?)"}},
		{name: "key at the wrong level", file: "access_ttl: 1m\nprefix: x\n",
			want: []string{`sessiond.yaml:1: unknown key "access_ttl" (did you mean "token.access_ttl"? it belongs under token)`,
				`sessiond.yaml:2: unknown key "prefix" (did you mean "store.redis.prefix"? it belongs under store.redis)`}},
		{name: "unknown env var without a near key", env: []string{"SESSIOND_NOPE=1"}, want: []string{"config: env SESSIOND_NOPE: no key has this variable; unset it"}},
		{name: "env var of a section", env: []string{"SESSIOND_TOKEN=x"}, want: []string{"env SESSIOND_TOKEN: no key has this variable"}},
		{name: "unknown flag", flags: map[string]string{"adr": "x"}, want: []string{`config: flag --adr: unknown key "adr" (did you mean "addr"?)`}},
		{name: "bad duration in file", file: "token:\n  access_ttl: 15\n",
			want: []string{`config: sessiond.yaml:2: token.access_ttl: "15" is not a duration (use Go syntax like 15m or 1h30m)`}},
		{name: "bad duration in env", env: []string{"SESSIOND_TOKEN_ACCESS_TTL=15"},
			want: []string{`config: env SESSIOND_TOKEN_ACCESS_TTL: token.access_ttl: "15" is not a duration (use Go syntax like 15m or 1h30m)`}},
		{name: "negative duration", flags: map[string]string{"session.idle_timeout": "-1h"},
			want: []string{`flag --session.idle_timeout: session.idle_timeout: "-1h" is negative`}},
		{name: "bad rate", file: "ratelimit:\n  login_per_ip: lots\n",
			want: []string{`sessiond.yaml:2: ratelimit.login_per_ip: "lots" is not a rate (write N/duration with N > 0, e.g. 10/1m)`}},
		{name: "zero rate", env: []string{"SESSIOND_RATELIMIT_LOGIN_PER_ACCOUNT=0/1m"}, want: []string{`ratelimit.login_per_account: "0/1m" is not a rate`}},
		{name: "bad int", file: "session: {max_per_user: many}", want: []string{`session.max_per_user: "many" is not a whole number`}},
		{name: "bad bool", env: []string{"SESSIOND_DEV=maybe"}, want: []string{`dev: "maybe" is not a boolean (use true or false)`}},
		{name: "leeway over 60s", file: "token:\n  leeway: 61s\n",
			want: []string{"config: sessiond.yaml:2: token.leeway: 1m1s is more than the 60s allowed"}},
		{name: "HS256 without secret", file: "token: {alg: HS256}",
			want: []string{"token.hs256_secret: is required when token.alg is HS256"}},
		{name: "HS256 with short secret", file: "token: {alg: HS256, hs256_secret: too-short-secret-value}",
			want: []string{"sessiond.yaml:1: token.hs256_secret: is too short: HS256 needs at least 32 bytes"}, notWant: []string{"too-short-secret-value"}},
		{name: "secret with EdDSA", env: []string{"SESSIOND_TOKEN_HS256_SECRET=0123456789abcdef0123456789abcdef-supersecret"},
			want:    []string{"config: env SESSIOND_TOKEN_HS256_SECRET: token.hs256_secret: is set but token.alg is EdDSA; remove it, or set token.alg to HS256"},
			notWant: []string{"supersecret"}},
		{name: "bad algorithm", file: "token: {alg: none}", want: []string{`token.alg: "none" is not one of EdDSA, ES256, RS256, HS256`}},
		{name: "bad key encryption key", env: []string{"SESSIOND_TOKEN_KEY_ENCRYPTION_KEY=not base64 kek-secret-value"},
			want: []string{"token.key_encryption_key: is not base64"}, notWant: []string{"kek-secret-value"}},
		{name: "short key encryption key", file: "token: {key_encryption_key: c2hvcnQ=}",
			want: []string{"token.key_encryption_key: decodes to 5 bytes; it must be exactly 32"}, notWant: []string{"c2hvcnQ"}},
		{name: "secret given as a list", file: "token:\n  hs256_secret: [listed-secret-value]\n",
			want: []string{"sessiond.yaml:2: token.hs256_secret: want a single value, not a list"}, notWant: []string{"listed-secret-value"}},
		{name: "absolute shorter than idle", file: "session:\n  idle_timeout: 48h\n  absolute_timeout: 24h\n",
			want: []string{"sessiond.yaml:3: session.absolute_timeout: 24h is shorter than session.idle_timeout 48h"}},
		{name: "touch interval not shorter than idle", env: []string{"SESSIOND_SESSION_TOUCH_INTERVAL=24h"},
			want: []string{"session.touch_interval: 24h is not shorter than session.idle_timeout 24h"}},
		{name: "refresh idle longer than refresh ttl", file: "token: {refresh_ttl: 24h}",
			want: []string{"token.refresh_idle_ttl: 168h is longer than token.refresh_ttl 24h"}},
		{name: "tls cert without key", file: "tls:\n  cert: " + missing + "\n",
			want: []string{"config: tls.key: is empty but tls.cert is set; set both (PEM files) or neither"}},
		{name: "tls files missing", env: []string{"SESSIOND_TLS_CERT=" + missing, "SESSIOND_TLS_KEY=" + missing},
			want: []string{"env SESSIOND_TLS_CERT: tls.cert: \"" + missing + "\" does not exist", "env SESSIOND_TLS_KEY: tls.key: "}},
		{name: "hsts max-age not in seconds", env: []string{"SESSIOND_TLS_HSTS_MAX_AGE=1500ms"},
			want: []string{"env SESSIOND_TLS_HSTS_MAX_AGE: tls.hsts_max_age: 1.5s is not allowed"}},
		{name: "bad CIDR", file: "trusted_proxies:\n  - 10.0.0.0/8\n  - 10.0.0.300\n",
			want: []string{`sessiond.yaml:3: trusted_proxies[1]: "10.0.0.300" is not an IP address or CIDR (e.g. 10.0.0.0/8 or 192.0.2.1)`}},
		{name: "bad CIDR in env", env: []string{"SESSIOND_TRUSTED_PROXIES=10.0.0.0/8,fe80::1%eth0,x/33"},
			want: []string{`trusted_proxies: "fe80::1%eth0" is not an IP address or CIDR`, `trusted_proxies: "x/33" is not an IP address or CIDR`}},
		{name: "bad store scheme", file: "store:\n  users: mysql://root:hunter2@db/sessiond\n",
			want:    []string{`sessiond.yaml:2: store.users: "mysql://root:xxxxx@db/sessiond" has no known scheme`},
			notWant: []string{"hunter2"}},
		{name: "store URL without host hides password", env: []string{"SESSIOND_STORE_USERS=postgres://u:hunter2@/db"},
			want: []string{`store.users: "postgres://u:xxxxx@/db" is not a postgres:// URL with a host`}, notWant: []string{"hunter2"}},
		{name: "malformed store URL hides password", env: []string{"SESSIOND_STORE_USERS=postgres//u:hunter2@db/x"},
			want: []string{"store.users:"}, notWant: []string{"hunter2"}},
		{name: "users store on redis refused", file: "store:\n  users: redis://localhost:6379/0\n",
			want: []string{`sessiond.yaml:2: store.users: "redis://localhost:6379/0" is Redis, which holds sessions only`}},
		{name: "users store on redis cluster refused", env: []string{"SESSIOND_STORE_USERS=redis+cluster://a:1,b:2"},
			want: []string{`store.users: "redis+cluster://a:1,b:2" is Redis`}},
		{name: "bad cluster URL", env: []string{"SESSIOND_STORE_SESSIONS=redis+cluster://a,b:2"},
			want: []string{`store.sessions: "redis+cluster://a,b:2" is not redis+cluster://HOST:PORT,HOST:PORT`}},
		{name: "sentinel URL without master name", env: []string{"SESSIOND_STORE_SESSIONS=redis+sentinel://a:1,b:2"},
			want: []string{`store.sessions: "redis+sentinel://a:1,b:2" is not redis+sentinel://HOST:PORT,HOST:PORT,.../MASTERNAME[/DB]`}},
		{name: "sentinel URL with a bad db", env: []string{"SESSIOND_STORE_SESSIONS=rediss+sentinel://a:1/m/x"},
			want: []string{`store.sessions: "rediss+sentinel://a:1/m/x" is not rediss+sentinel://`}},
		{name: "revocation replicas not a count", env: []string{"SESSIOND_STORE_REDIS_REVOCATION_REPLICAS=-2"},
			want: []string{`store.redis.revocation_replicas: "-2": must be auto, off or a number`}},
		{name: "revocation timeout too long", env: []string{"SESSIOND_STORE_REDIS_REVOCATION_TIMEOUT=11s"},
			want: []string{"store.redis.revocation_timeout: 11s: must be more than 0 and at most 10s"}},
		{name: "memory store without dev", env: []string{"SESSIOND_STORE_SESSIONS=memory:"},
			want: []string{"env SESSIOND_STORE_SESSIONS: store.sessions: memory: keeps nothing across restarts and is allowed only with dev"}},
		{name: "sqlite without path", flags: map[string]string{"store.users": "sqlite:"}, want: []string{`store.users: "sqlite:" has no path`}},
		{name: "bad addr", flags: map[string]string{"addr": "localhost"},
			want: []string{`config: flag --addr: addr: "localhost" is not HOST:PORT`}},
		{name: "bad base_url", file: "base_url: auth.example.com", want: []string{`base_url: "auth.example.com" is not an absolute http(s) URL`}},
		{name: "bad enum", file: "log: {level: verbose}\ncookie: {secure: sometimes}\nstore: {migrate: never}",
			want: []string{`log.level: "verbose" is not one of debug, info, warn, error`, `cookie.secure: "sometimes" is not one of auto, true, false`, `store.migrate: "never" is not one of auto, off`}},
		{name: "cookie domain not covering base_url", file: "base_url: https://auth.example.com\ncookie: {domain: example.org}",
			want: []string{`cookie.domain: "example.org" does not cover base_url's host "auth.example.com"`}},
		{name: "bad redirect hosts", file: "gateway:\n  allowed_redirect_hosts: ['*', '*.com', 'https://a.example', 'a.example:443']\n",
			want: []string{`entry 1, "*"`, `entry 2, "*.com"`, `entry 3, "https://a.example"`, `entry 4, "a.example:443"`}},
		{name: "lockout over 100", file: "ratelimit: {lockout_after: 101}", want: []string{"ratelimit.lockout_after: 101 is more than 100"}},
		{name: "argon2 below minimum", file: "password: {memory_kib: 1024, time: 1, threads: 300}",
			want: []string{"password.memory_kib: 1024 is below the minimum 19456", "password.time: 1 is below the minimum 2", "password.threads: 300 is not allowed"}},
		{name: "bad color and logo", file: "branding: {primary_color: blue, logo_url: 'javascript:alert(1)'}",
			want: []string{`branding.primary_color: "blue" is not a CSS hex color`, `branding.logo_url: "javascript:alert(1)" is not an http(s) URL or an absolute path`}},
		{name: "mail relay", file: "mail:\n  smtp: {host: smtp.example.com, tls: none, port: 70000, password: relay-pw}\n  from: 'not an address'\nsignup: {allowed_domains: ['exa mple.com']}\nnotices: {new_device: maybe}\n",
			want: []string{
				`mail.smtp.tls: none (clear text) is allowed only for a relay on a loopback address; "smtp.example.com" is not one`,
				"mail.smtp.port: 70000 is not a port",
				"mail.smtp.password: is set without mail.smtp.username",
				`mail.from: "not an address" is not an address`,
				`signup.allowed_domains: "exa mple.com" is not a domain name`,
				`notices.new_device: "maybe" is not one of on, off`,
			},
			notWant: []string{"relay-pw"}},
		{name: "mail relay without from", env: []string{"SESSIOND_MAIL_SMTP_HOST=smtp.example.com", "SESSIOND_MAIL_SMTP_TLS=bogus"},
			want: []string{"mail.from: is required when mail.smtp.host is set", `mail.smtp.tls: "bogus" is not one of starttls, implicit, none`}},
		{name: "verified email needs a relay", file: "signup: {enabled: true, require_verified_email: true}\n",
			want: []string{"signup.require_verified_email: needs mail.smtp.host", "signup.enabled: needs mail.smtp.host"}},
		{name: "recovery rate", env: []string{"SESSIOND_RATELIMIT_RECOVERY_PER_EMAIL=0/1h"},
			want: []string{`ratelimit.recovery_per_email: "0/1h" is not a rate`}},
		{name: "max header bytes", flags: map[string]string{"http.max_header_bytes": "10"}, want: []string{"http.max_header_bytes: 10 is not allowed"}},
		{name: "rotation period too short", env: []string{"SESSIOND_TOKEN_ROTATION_PERIOD=5m"}, want: []string{"token.rotation_period: 5m is too short"}},
		{name: "oidc providers", file: "oidc:\n  providers:\n  - name: Bad Name\n    issuer: http://idp.example\n  - name: a\n    issuer: https://a.example\n    client_id: x\n    scopes: [email]\n  - name: a\n    issuer: https://a.example\n    client_id: y\n",
			want: []string{
				`sessiond.yaml:3: oidc.providers[0].name: "Bad Name" may hold only lowercase letters`,
				`sessiond.yaml:4: oidc.providers[0].issuer: "http://idp.example" must use https`,
				`config: oidc.providers[0].client_id: is required`,
				`oidc.providers[1].scopes: must include openid`,
				`sessiond.yaml:9: oidc.providers[2].name: "a" is also the name of oidc.providers[1]`,
			}},
		{name: "list of objects from env", env: []string{"SESSIOND_OIDC_PROVIDERS=google"},
			want: []string{"env SESSIOND_OIDC_PROVIDERS: oidc.providers: is a list of objects, which cannot be set from the environment; use the config file"}},
		{name: "wrong YAML shapes", file: "token: 5\nlog: [a]\naddr: {a: b}\ntrusted_proxies: {a: b}\noidc: {providers: x}\n",
			want: []string{
				"sessiond.yaml:1: token: want a mapping of keys, not a single value",
				"sessiond.yaml:2: log: want a mapping of keys, not a list",
				"sessiond.yaml:3: addr: want a single value, not a mapping",
				"sessiond.yaml:4: trusted_proxies: want a list or a comma-separated string, not a mapping",
				"sessiond.yaml:5: oidc.providers: want a list of mappings, not a single value",
			}},
		{name: "duplicate key", file: "addr: 127.0.0.1:1\ntoken:\n  alg: EdDSA\n  alg: ES256\n",
			want: []string{`sessiond.yaml:4: duplicate key "token.alg" (first at line 3); keep one`}},
		{name: "not a mapping", file: "- a\n- b\n", want: []string{"sessiond.yaml:1: the file must be a mapping of keys (key: value), not a list"}},
		{name: "two documents", file: "addr: 127.0.0.1:1\n---\naddr: 127.0.0.1:2\n", want: []string{"sessiond.yaml:3: a second YAML document"}},
		{name: "invalid YAML", file: "addr: [\n", want: []string{"sessiond.yaml: not valid YAML: "}},
		{name: "non-scalar key", file: "? [a]\n: b\n", want: []string{"sessiond.yaml:1: a key must be a plain name, not a list"}},
		{name: "merge of a scalar", file: "http:\n  <<: 5\n", want: []string{"sessiond.yaml:2: http: << merges a mapping or a list of mappings, not a single value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := ""
			if tt.file != "" {
				path = writeConfig(t, tt.file)
			}
			c, err := Load(path, tt.env, tt.flags)
			if err == nil {
				t.Fatalf("Load succeeded: %v", c)
			}
			if c != nil {
				t.Errorf("Load returned a Config with an error")
			}
			msg := err.Error() + "\n"
			if path != "" {
				msg = strings.ReplaceAll(msg, path, "sessiond.yaml")
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q; it is:\n%s", w, msg)
				}
			}
			for _, nw := range tt.notWant {
				if strings.Contains(msg, nw) {
					t.Errorf("error contains %q; it is:\n%s", nw, msg)
				}
			}
			for line := range strings.SplitSeq(strings.TrimSpace(msg), "\n") {
				if !strings.HasPrefix(line, "config: ") {
					t.Errorf("error line %q does not start with \"config: \"", line)
				}
			}
		})
	}
}

func TestLoadCollectsAllErrors(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, "addr: nope\ntoken:\n  access_ttl: soon\n  leeway: 2m\nbogus: 1\nsession:\n  idle_timeout: 2h\n  absolute_timeout: 1h\n")
	_, err := Load(path, []string{"SESSIOND_NOPE=1", "SESSIOND_RATELIMIT_LOGIN_PER_IP=x"}, map[string]string{"nope": "1"})
	if err == nil {
		t.Fatal("Load succeeded")
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		t.Fatalf("error %T is not joined", err)
	}
	keys := []string{"addr:", "token.access_ttl:", "token.leeway:", `"bogus"`, "session.absolute_timeout:", "SESSIOND_NOPE", "ratelimit.login_per_ip:", "--nope"}
	if got := len(joined.Unwrap()); got != len(keys) {
		t.Errorf("got %d errors, want %d:\n%v", got, len(keys), err)
	}
	for _, k := range keys {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("error does not mention %s:\n%v", k, err)
		}
	}
}

func TestLoadBadValueNotRevalidated(t *testing.T) {
	t.Parallel()
	// A value that could not be read is reported once, not again by validation.
	_, err := Load("", []string{"SESSIOND_TOKEN_ALG=", "SESSIOND_TOKEN_LEEWAY=forever"}, nil)
	if err == nil || strings.Count(err.Error(), "token.leeway") != 1 {
		t.Errorf("want exactly one token.leeway error, got:\n%v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil, nil)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "SESSIOND_CONFIG") {
		t.Errorf("Load(missing) = %v; want a not-exist error that says how the file was chosen", err)
	}
}

func TestTLSPair(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeSelfSigned(t, certFile, keyFile)
	c := mustLoad(t, "", nil, map[string]string{"tls.cert": certFile, "tls.key": keyFile, "addr": "0.0.0.0:443"})
	if !c.TLS.Enabled() || c.BaseURL != "https://localhost" || !c.CookieSecure() {
		t.Errorf("with TLS: enabled=%v base_url=%q cookie secure=%v", c.TLS.Enabled(), c.BaseURL, c.CookieSecure())
	}
	_, err := Load("", nil, map[string]string{"tls.cert": keyFile, "tls.key": certFile})
	if err == nil || !strings.Contains(err.Error(), "tls.cert:") || !strings.Contains(err.Error(), "not a usable PEM certificate and matching key") {
		t.Errorf("swapped files: %v", err)
	}
	_, err = Load("", nil, map[string]string{"tls.cert": dir, "tls.key": keyFile})
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory as cert: %v", err)
	}
}

func writeSelfSigned(t *testing.T, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSecretsNeverShown(t *testing.T) {
	t.Parallel()
	const hs = "hs256-secret-value-0123456789abcdef"
	kek := base64.StdEncoding.EncodeToString([]byte("kek-secret-value-0123456789abcde"))
	c := mustLoad(t, "oidc:\n  providers:\n  - {name: g, issuer: https://g.example, client_id: c, client_secret: oidc-secret-value}\n",
		[]string{"SESSIOND_TOKEN_ALG=HS256", "SESSIOND_TOKEN_HS256_SECRET=" + hs, "SESSIOND_TOKEN_KEY_ENCRYPTION_KEY=" + kek,
			"SESSIOND_STORE_USERS=postgres://sessiond:pg-password@db:5432/s",
			"SESSIOND_MAIL_SMTP_HOST=smtp.example.com", "SESSIOND_MAIL_SMTP_USERNAME=u", "SESSIOND_MAIL_SMTP_PASSWORD=smtp-secret-value",
			"SESSIOND_MAIL_FROM=no-reply@example.com"}, nil)
	if c.Token.HS256Secret.Reveal() != hs {
		t.Fatalf("Reveal() = %q", c.Token.HS256Secret.Reveal())
	}
	red, err := json.Marshal(c.Redacted())
	if err != nil {
		t.Fatal(err)
	}
	plain, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "secret", c.Token.HS256Secret, "token", c.Token)
	outputs := map[string]string{
		"String":     c.String(),
		"Redacted":   string(red),
		"json":       string(plain),
		"%v":         fmt.Sprintf("%v", *c),
		"%+v":        fmt.Sprintf("%+v", *c),
		"%#v":        fmt.Sprintf("%#v", *c),
		"%s secret":  fmt.Sprintf("%s %q %x", c.Token.HS256Secret, c.Token.HS256Secret, c.Token.HS256Secret),
		"slog":       logged.String(),
		"fmt of ptr": fmt.Sprint(c),
	}
	for name, out := range outputs {
		for _, s := range []string{hs, kek, "oidc-secret-value", "smtp-secret-value"} {
			if strings.Contains(out, s) {
				t.Errorf("%s shows a secret: %s", name, out)
			}
		}
	}
	for _, name := range []string{"String", "Redacted", "fmt of ptr"} {
		if strings.Contains(outputs[name], "pg-password") {
			t.Errorf("%s shows the store password: %s", name, outputs[name])
		}
		if !strings.Contains(outputs[name], "REDACTED") || !strings.Contains(outputs[name], "sessiond:xxxxx@db") {
			t.Errorf("%s does not mark what it hid: %s", name, outputs[name])
		}
	}
	if m := c.Redacted()["token"].(map[string]any); m["hs256_secret"] != "REDACTED" || m["access_ttl"] != "15m" {
		t.Errorf("Redacted token = %v", m)
	}
	if m := c.Redacted()["mail"].(map[string]any)["smtp"].(map[string]any); m["password"] != "REDACTED" || m["username"] != "u" {
		t.Errorf("Redacted mail.smtp = %v", m)
	}
}

func TestStringRoundTrips(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"", strings.ReplaceAll(strings.ReplaceAll(fullFile, "sessiond:hunter2@", ""), "      client_secret: oidc-secret-value\n", "")} {
		c := mustLoad(t, src, nil, nil)
		if c.Token.KeyEncryptionKey != "" {
			c.Token.KeyEncryptionKey = ""
		}
		again := mustLoad(t, c.String(), nil, nil)
		if diff := cmp.Diff(c, again, cmpOpts); diff != "" {
			t.Errorf("Load(String()) differs (-first +second):\n%s\n%s", diff, c)
		}
	}
}

func TestTLSHSTS(t *testing.T) {
	for _, c := range []struct {
		tls  TLS
		want string
	}{
		{TLS{HSTSMaxAge: Duration{365 * 24 * time.Hour}}, "max-age=31536000"},
		{TLS{HSTSMaxAge: Duration{time.Hour}, HSTSIncludeSubdomains: true}, "max-age=3600; includeSubDomains"},
		{TLS{HSTSIncludeSubdomains: true}, ""}, // 0s: none
	} {
		if got := c.tls.HSTS(); got != c.want {
			t.Errorf("%+v: HSTS() = %q, want %q", c.tls, got, c.want)
		}
	}
	if got := mustLoad(t, "", nil, nil).TLS.HSTS(); got != "max-age=31536000" {
		t.Errorf("default: HSTS() = %q, want max-age=31536000", got)
	}
	// An operator who writes 0s turns the header off (issue 13 items 4, 7).
	if got := mustLoad(t, "tls:\n  hsts_max_age: 0s\n", nil, nil).TLS.HSTS(); got != "" {
		t.Errorf("hsts_max_age: 0s: HSTS() = %q, want none", got)
	}
}

func TestCookieSecure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		secure, baseURL, cert string
		want                  bool
	}{
		{"auto", "http://127.0.0.1:8080", "", false},
		{"auto", "https://auth.example.com", "", true},
		{"auto", "HTTPS://auth.example.com", "", true},
		{"auto", "http://x", "c", false}, // TLS needs both files
		{"true", "http://127.0.0.1:8080", "", true},
		{"false", "https://auth.example.com", "", false},
	}
	for _, tt := range tests {
		c := Config{BaseURL: tt.baseURL, Cookie: Cookie{Secure: tt.secure}, TLS: TLS{Cert: tt.cert}}
		if got := c.CookieSecure(); got != tt.want {
			t.Errorf("CookieSecure(%q, %q, %q) = %v, want %v", tt.secure, tt.baseURL, tt.cert, got, tt.want)
		}
	}
}

func TestDeriveBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		tls  bool
		want string
	}{
		{"127.0.0.1:8080", false, "http://127.0.0.1:8080"},
		{":8080", false, "http://localhost:8080"},
		{"0.0.0.0:80", false, "http://localhost"},
		{"[::]:443", true, "https://localhost"},
		{"[::1]:8443", true, "https://[::1]:8443"},
		{"[::1]:443", true, "https://[::1]"},
		{"auth.internal:9000", false, "http://auth.internal:9000"},
		{"nonsense", false, ""},
	}
	for _, tt := range tests {
		if got := deriveBaseURL(tt.addr, tt.tls); got != tt.want {
			t.Errorf("deriveBaseURL(%q, %v) = %q, want %q", tt.addr, tt.tls, got, tt.want)
		}
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"15m", 15 * time.Minute, false},
		{"1h30m", 90 * time.Minute, false},
		{" 10s ", 10 * time.Second, false},
		{"0", 0, false},
		{"", 0, false},
		{"30d", 720 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"15", 0, true},
		{"-1s", 0, true},
		{"1d-1h", 0, true},
		{"d", 0, true},
		{"-1d", 0, true},
		{"99999999999d", 0, true},
		{"106751d23h47m16s", 106751*24*time.Hour + 23*time.Hour + 47*time.Minute + 16*time.Second, false},
		{"106751d23h48m", 0, true},
	}
	for _, tt := range tests {
		var got Duration
		err := got.UnmarshalText([]byte(tt.in))
		if (err != nil) != tt.err || got.Duration != tt.want {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v, error %v", tt.in, got.Duration, err, tt.want, tt.err)
		}
	}
	for _, in := range []time.Duration{0, time.Second, 15 * time.Minute, 720 * time.Hour, 90 * time.Minute, 1500 * time.Millisecond, time.Hour + time.Second} {
		b, _ := Duration{in}.MarshalText()
		var back Duration
		if err := back.UnmarshalText(b); err != nil || back.Duration != in {
			t.Errorf("round trip of %v via %q = %v, %v", in, b, back.Duration, err)
		}
	}
	if got := (Duration{720 * time.Hour}).String(); got != "720h" {
		t.Errorf("String() = %q, want 720h", got)
	}
}

// TestMailLoopbackRelayInClear: tls none is accepted for a relay on a
// loopback address, with the sender address and upper-case spellings
// normalised.
func TestMailLoopbackRelayInClear(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"127.0.0.1", "localhost", "::1"} {
		c := mustLoad(t, "", []string{"SESSIOND_MAIL_SMTP_HOST=" + host, "SESSIOND_MAIL_SMTP_TLS=NONE",
			"SESSIOND_MAIL_FROM=sessiond <no-reply@example.com>", "SESSIOND_SIGNUP_ALLOWED_DOMAINS=Example.COM,@corp.example"}, nil)
		if c.Mail.SMTP.TLS != "none" || c.Mail.SMTP.Host != host {
			t.Errorf("mail.smtp = %+v", c.Mail.SMTP)
		}
		if want := []string{"example.com", "corp.example"}; !slices.Equal(c.Signup.AllowedDomains, want) {
			t.Errorf("signup.allowed_domains = %q; want %q", c.Signup.AllowedDomains, want)
		}
	}
}
