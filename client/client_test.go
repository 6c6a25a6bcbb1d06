package client_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/client"
	"github.com/sessiond/sessiond/session"
)

const testSecret = "Xq3v9Lw2Zr8Tn5Pk1Hs7Jd4Fb6Mc0Gy_-aBcDeF"

// webApp is a valid confidential client; tests change one thing at a time.
func webApp() *client.Client {
	return &client.Client{
		ID:                   "web-app",
		Name:                 "Web app",
		SecretHash:           client.HashSecret(testSecret),
		Grants:               []string{client.GrantAuthorizationCode, client.GrantRefreshToken},
		Scopes:               []string{"openid", "profile", "email"},
		RedirectURIs:         []string{"https://app.example.com/callback", "http://127.0.0.1:8000/cb"},
		BackchannelLogoutURI: "https://app.example.com/backchannel-logout",
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		edit    func(c *client.Client)
		wantErr string // substring; "" means valid
	}{
		{"valid", func(*client.Client) {}, ""},
		{"id with every allowed character", func(c *client.Client) { c.ID = "Az09._-" }, ""},
		{"id 128 characters", func(c *client.Client) { c.ID = strings.Repeat("a", 128) }, ""},
		{"id empty", func(c *client.Client) { c.ID = "" }, "id"},
		{"id 129 characters", func(c *client.Client) { c.ID = strings.Repeat("a", 129) }, "id"},
		{"id with a space", func(c *client.Client) { c.ID = "web app" }, "id"},
		{"id with a slash", func(c *client.Client) { c.ID = "web/app" }, "id"},
		{"id with a colon", func(c *client.Client) { c.ID = "web:app" }, "id"},
		{"id non-ASCII", func(c *client.Client) { c.ID = "wéb" }, "id"},
		{"id reserved", func(c *client.Client) { c.ID = client.FirstPartyID }, "reserved"},
		{"name with a newline", func(c *client.Client) { c.Name = "a\nb" }, "name"},
		{"name invalid UTF-8", func(c *client.Client) { c.Name = "a\xffb" }, "name"},
		{"name too long", func(c *client.Client) { c.Name = strings.Repeat("n", 201) }, "name"},
		{"name unicode", func(c *client.Client) { c.Name = "Café app ☕" }, ""},

		{"public without secret", func(c *client.Client) { c.Public, c.SecretHash = true, nil }, ""},
		{"public with secret", func(c *client.Client) { c.Public = true }, "public client has no secret"},
		{"confidential without secret", func(c *client.Client) { c.SecretHash = nil }, "needs a secret"},
		{"confidential with short hash", func(c *client.Client) { c.SecretHash = []byte("short") }, "needs a secret"},

		{"no grants", func(c *client.Client) { c.Grants = nil }, "at least one"},
		{"unknown grant", func(c *client.Client) { c.Grants = []string{"implicit"} }, "unknown"},
		{"grant with different case", func(c *client.Client) { c.Grants = []string{"Authorization_Code"} }, "unknown"},
		{"repeated grant", func(c *client.Client) {
			c.Grants = []string{client.GrantRefreshToken, client.GrantAuthorizationCode, client.GrantRefreshToken}
		}, "listed twice"},
		{"every grant", func(c *client.Client) { c.Grants, c.FirstParty = client.KnownGrants(), true }, ""},
		{"password for third party", func(c *client.Client) { c.Grants = []string{client.GrantPassword} }, "first-party"},
		{"password for first party", func(c *client.Client) {
			c.Grants, c.FirstParty = []string{client.GrantPassword, client.GrantRefreshToken}, true
		}, ""},
		{"client credentials for public", func(c *client.Client) {
			c.Public, c.SecretHash, c.Grants = true, nil, []string{client.GrantClientCredentials}
		}, "confidential"},
		{"token exchange for public", func(c *client.Client) {
			c.Public, c.SecretHash, c.Grants = true, nil, []string{client.GrantTokenExchange}
		}, "confidential"},
		{"service without redirect URIs", func(c *client.Client) {
			c.Grants, c.RedirectURIs, c.Audiences = []string{client.GrantClientCredentials}, nil, []string{"https://api.example.com"}
		}, ""},
		{"code without redirect URIs", func(c *client.Client) { c.RedirectURIs = nil }, "needs at least one redirect URI"},

		{"redirect https with query and port", func(c *client.Client) { c.RedirectURIs = []string{"https://a.example:8443/cb?x=1"} }, ""},
		{"redirect loopback v6", func(c *client.Client) { c.RedirectURIs = []string{"http://[::1]:5000/cb"} }, ""},
		{"redirect localhost", func(c *client.Client) { c.RedirectURIs = []string{"http://localhost/cb"} }, ""},
		{"redirect http non-loopback", func(c *client.Client) { c.RedirectURIs = []string{"http://app.example.com/cb"} }, "http is allowed only"},
		{"redirect http 127.0.0.2", func(c *client.Client) { c.RedirectURIs = []string{"http://127.0.0.2/cb"} }, "http is allowed only"},
		{"redirect http v4-mapped loopback", func(c *client.Client) { c.RedirectURIs = []string{"http://[::ffff:127.0.0.1]/cb"} }, "http is allowed only"},
		{"redirect http localhost suffix", func(c *client.Client) { c.RedirectURIs = []string{"http://localhost.evil.example/cb"} }, "http is allowed only"},
		{"redirect http LOCALHOST", func(c *client.Client) { c.RedirectURIs = []string{"http://LOCALHOST/cb"} }, "http is allowed only"},
		{"redirect fragment", func(c *client.Client) { c.RedirectURIs = []string{"https://a.example/cb#x"} }, "fragment"},
		{"redirect empty fragment", func(c *client.Client) { c.RedirectURIs = []string{"https://a.example/cb#"} }, "fragment"},
		{"redirect wildcard host", func(c *client.Client) { c.RedirectURIs = []string{"https://*.example.com/cb"} }, "wildcard"},
		{"redirect wildcard path", func(c *client.Client) { c.RedirectURIs = []string{"https://a.example/*"} }, "wildcard"},
		{"redirect relative", func(c *client.Client) { c.RedirectURIs = []string{"/callback"} }, "absolute"},
		{"redirect scheme-relative", func(c *client.Client) { c.RedirectURIs = []string{"//a.example/cb"} }, "absolute"},
		{"redirect no host", func(c *client.Client) { c.RedirectURIs = []string{"https:///cb"} }, "absolute"},
		{"redirect port only", func(c *client.Client) { c.RedirectURIs = []string{"https://:443/cb"} }, "absolute"},
		{"redirect opaque", func(c *client.Client) { c.RedirectURIs = []string{"https:a.example/cb"} }, "absolute"},
		{"redirect custom scheme", func(c *client.Client) { c.RedirectURIs = []string{"com.example.app:/cb"} }, "absolute"},
		{"redirect custom scheme with host", func(c *client.Client) { c.RedirectURIs = []string{"myapp://cb"} }, "scheme"},
		{"redirect javascript", func(c *client.Client) { c.RedirectURIs = []string{"javascript://a.example/%0aalert(1)"} }, "scheme"},
		{"redirect userinfo", func(c *client.Client) { c.RedirectURIs = []string{"https://user@a.example/cb"} }, "user information"},
		{"redirect space", func(c *client.Client) { c.RedirectURIs = []string{"https://a.example/c b"} }, "printable ASCII"},
		{"redirect newline", func(c *client.Client) { c.RedirectURIs = []string{"https://a.example/cb\n"} }, "printable ASCII"},
		{"redirect non-ASCII", func(c *client.Client) { c.RedirectURIs = []string{"https://ex\u00e4mple.com/cb"} }, "printable ASCII"},
		{"redirect bad port", func(c *client.Client) { c.RedirectURIs = []string{"https://a.example:x/cb"} }, "not a URL"},
		{"redirect empty", func(c *client.Client) { c.RedirectURIs = []string{""} }, "absolute"},
		{"redirect too long", func(c *client.Client) {
			c.RedirectURIs = []string{"https://a.example/" + strings.Repeat("a", 2048)}
		}, "longer"},
		{"redirect repeated", func(c *client.Client) {
			c.RedirectURIs = []string{"https://a.example/cb", "https://a.example/cb"}
		}, "listed twice"},

		{"backchannel empty", func(c *client.Client) { c.BackchannelLogoutURI = "" }, ""},
		{"backchannel loopback http", func(c *client.Client) { c.BackchannelLogoutURI = "http://127.0.0.1:9000/bcl" }, ""},
		{"backchannel http", func(c *client.Client) { c.BackchannelLogoutURI = "http://app.example.com/bcl" }, "back-channel"},
		{"backchannel fragment", func(c *client.Client) { c.BackchannelLogoutURI = "https://app.example.com/bcl#f" }, "back-channel"},
		{"backchannel relative", func(c *client.Client) { c.BackchannelLogoutURI = "/bcl" }, "back-channel"},

		{"audiences", func(c *client.Client) { c.Audiences = []string{"https://api.example.com", "billing"} }, ""},
		{"audience empty", func(c *client.Client) { c.Audiences = []string{""} }, "audience"},
		{"audience with space", func(c *client.Client) { c.Audiences = []string{"a b"} }, "audience"},
		{"audience with tab", func(c *client.Client) { c.Audiences = []string{"a\tb"} }, "audience"},
		{"audience repeated", func(c *client.Client) { c.Audiences = []string{"api", "api"} }, "listed twice"},

		{"scope empty", func(c *client.Client) { c.Scopes = []string{""} }, "scope"},
		{"scope with space", func(c *client.Client) { c.Scopes = []string{"read write"} }, "scope"},
		{"scope with quote", func(c *client.Client) { c.Scopes = []string{`a"b`} }, "scope"},
		{"scope with backslash", func(c *client.Client) { c.Scopes = []string{`a\b`} }, "scope"},
		{"scope non-ASCII", func(c *client.Client) { c.Scopes = []string{"lésen"} }, "scope"},
		{"scope with punctuation", func(c *client.Client) { c.Scopes = []string{"api:read", "https://x/y!"} }, ""},
		{"scope repeated", func(c *client.Client) { c.Scopes = []string{"openid", "openid"} }, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := webApp()
			tt.edit(c)
			err := client.Validate(c)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("want an error containing %q, got valid", tt.wantErr)
			case tt.wantErr != "" && !errors.Is(err, client.ErrInvalid):
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestValidateNil(t *testing.T) {
	t.Parallel()
	if err := client.Validate(nil); !errors.Is(err, client.ErrInvalid) {
		t.Fatalf("want ErrInvalid, got %v", err)
	}
}

func TestValidateErrorTruncatesLongValues(t *testing.T) {
	t.Parallel()
	c := webApp()
	c.Audiences = []string{strings.Repeat("x", 600)}
	err := client.Validate(c)
	if err == nil || len(err.Error()) > 300 {
		t.Fatalf("want a short error, got %d bytes: %v", len(err.Error()), err)
	}
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		s, err := client.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
		if err != nil || len(raw) != 32 {
			t.Fatalf("secret %q: want 32 bytes of base64url, got %d bytes, %v", s, len(raw), err)
		}
		if err := client.ValidateSecret(s); err != nil {
			t.Fatalf("generated secret refused: %v", err)
		}
		if seen[s] {
			t.Fatalf("secret %q repeated", s)
		}
		seen[s] = true
	}
}

func TestValidateSecret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret string
		ok     bool
	}{
		{"generated shape", testSecret, true},
		{"exactly 32", "abcdefgh" + strings.Repeat("x", 24), true},
		{"31 characters", "abcdefgh" + strings.Repeat("x", 23), false},
		{"empty", "", false},
		{"one repeated character", strings.Repeat("a", 64), false},
		{"seven distinct characters", strings.Repeat("abcdefg", 10), false},
		{"eight distinct characters", strings.Repeat("abcdefgh", 4), true},
		{"printable punctuation", `!"#$%&'()*+,-./:;<=>?@[\]^_{|}~` + "`", true},
		{"space", "abcdefgh abcdefgh abcdefgh abcdefgh", false},
		{"newline", "abcdefghabcdefghabcdefghabcdefgh\n", false},
		{"non-ASCII", "abcdefghabcdefghabcdefghabcdefgé", false},
		{"NUL", "abcdefghabcdefghabcdefghabcdefgh\x00", false},
		{"512 characters", strings.Repeat("abcdefgh", 64), true},
		{"513 characters", strings.Repeat("abcdefgh", 64) + "a", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := client.ValidateSecret(tt.secret)
			if tt.ok != (err == nil) {
				t.Fatalf("ValidateSecret(%q) = %v, want ok=%v", tt.secret, err, tt.ok)
			}
			if err != nil && !errors.Is(err, client.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			if err != nil && strings.Contains(err.Error(), tt.secret) && tt.secret != "" {
				t.Fatalf("error %q echoes the secret", err)
			}
		})
	}
}

func TestHashSecret(t *testing.T) {
	t.Parallel()
	h := client.HashSecret(testSecret)
	if len(h) != 32 {
		t.Fatalf("hash has %d bytes, want 32", len(h))
	}
	if string(h) != string(client.HashSecret(testSecret)) {
		t.Fatal("hash is not deterministic")
	}
	if plain := sha256.Sum256([]byte(testSecret)); string(plain[:]) == string(h) {
		t.Fatal("hash is plain SHA-256; want the labelled HMAC")
	}
	if string(h) == string(client.HashSecret(testSecret+"x")) {
		t.Fatal("different secrets, same hash")
	}
}

func TestCheckSecret(t *testing.T) {
	t.Parallel()
	conf := webApp()
	public := webApp()
	public.Public, public.SecretHash = true, nil
	// A public client with a stray hash still never authenticates.
	stray := webApp()
	stray.Public = true
	noHash := webApp()
	noHash.SecretHash = nil
	tests := []struct {
		name   string
		c      *client.Client
		secret string
		want   bool
	}{
		{"right secret", conf, testSecret, true},
		{"wrong secret", conf, testSecret[:len(testSecret)-1] + "G", false},
		{"prefix", conf, testSecret[:32], false},
		{"longer", conf, testSecret + "x", false},
		{"empty", conf, "", false},
		{"too long", conf, strings.Repeat("a", 10000), false},
		{"the hash itself", conf, string(conf.SecretHash), false},
		{"public client", public, testSecret, false},
		{"public client with a hash", stray, testSecret, false},
		{"confidential without hash", noHash, "", false},
		{"confidential without hash, any secret", noHash, testSecret, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.c.CheckSecret(tt.secret); got != tt.want {
				t.Fatalf("CheckSecret = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAllows(t *testing.T) {
	t.Parallel()
	c := webApp()
	c.Audiences = []string{"https://api.example.com", "billing"}
	for _, tt := range []struct {
		name string
		got  bool
		want bool
	}{
		{"grant allowed", c.Allows(client.GrantAuthorizationCode), true},
		{"second grant allowed", c.Allows(client.GrantRefreshToken), true},
		{"grant not allowed", c.Allows(client.GrantClientCredentials), false},
		{"password not allowed", c.Allows(client.GrantPassword), false},
		{"empty grant", c.Allows(""), false},
		{"grant case differs", c.Allows("Authorization_code"), false},
		{"audience allowed", c.AllowsAudience("billing"), true},
		{"URL audience allowed", c.AllowsAudience("https://api.example.com"), true},
		{"audience with trailing slash", c.AllowsAudience("https://api.example.com/"), false},
		{"audience prefix", c.AllowsAudience("bill"), false},
		{"empty audience", c.AllowsAudience(""), false},
		{"redirect exact", c.HasRedirectURI("https://app.example.com/callback"), true},
		{"redirect loopback exact", c.HasRedirectURI("http://127.0.0.1:8000/cb"), true},
		{"redirect trailing slash", c.HasRedirectURI("https://app.example.com/callback/"), false},
		{"redirect extra query", c.HasRedirectURI("https://app.example.com/callback?x=1"), false},
		{"redirect case differs", c.HasRedirectURI("https://APP.example.com/callback"), false},
		{"redirect default port spelled", c.HasRedirectURI("https://app.example.com:443/callback"), false},
		{"redirect percent-encoded", c.HasRedirectURI("https://app.example.com/%63allback"), false},
		{"redirect other port", c.HasRedirectURI("http://127.0.0.1:8001/cb"), false},
		{"redirect prefix", c.HasRedirectURI("https://app.example.com/callback.evil"), false},
		{"redirect empty", c.HasRedirectURI(""), false},
		{"no audiences at all", (&client.Client{}).AllowsAudience("billing"), false},
		{"no grants at all", (&client.Client{}).Allows(client.GrantRefreshToken), false},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestFirstParty(t *testing.T) {
	t.Parallel()
	c := client.FirstParty()
	if c.ID != client.FirstPartyID || !c.Public || !c.FirstParty || c.SecretHash != nil {
		t.Fatalf("unexpected built-in client %+v", c)
	}
	if !c.Allows(client.GrantPassword) || !c.Allows(client.GrantRefreshToken) {
		t.Fatalf("built-in client lacks password or refresh_token: %v", c.Grants)
	}
	for _, g := range []string{client.GrantAuthorizationCode, client.GrantClientCredentials, client.GrantTokenExchange} {
		if c.Allows(g) {
			t.Fatalf("built-in client allows %s", g)
		}
	}
	if c.CheckSecret("") || c.CheckSecret(testSecret) {
		t.Fatal("built-in public client authenticated with a secret")
	}
	// Every call is a fresh copy: changing one cannot widen the next.
	c.Grants[0] = client.GrantClientCredentials
	c.Grants = append(c.Grants, client.GrantTokenExchange)
	if d := client.FirstParty(); d.Allows(client.GrantClientCredentials) || d.Allows(client.GrantTokenExchange) {
		t.Fatal("FirstParty shares state between calls")
	}
}

func TestClone(t *testing.T) {
	t.Parallel()
	c := webApp()
	c.Audiences = []string{"api"}
	d := c.Clone()
	d.SecretHash[0] ^= 0xff
	d.Grants[0] = "x"
	d.Audiences[0] = "x"
	d.Scopes[0] = "x"
	d.RedirectURIs[0] = "x"
	if !c.CheckSecret(testSecret) || c.Grants[0] == "x" || c.Audiences[0] == "x" || c.Scopes[0] == "x" || c.RedirectURIs[0] == "x" {
		t.Fatal("Clone shares slices with the original")
	}
	var empty client.Client
	if e := empty.Clone(); e.SecretHash != nil || e.Grants != nil {
		t.Fatal("Clone turned nil slices into empty ones")
	}
}

type fakeStore map[string]*client.Client

func (f fakeStore) GetClient(_ context.Context, id string) (*client.Client, error) {
	if c, ok := f[id]; ok {
		return c.Clone(), nil
	}
	return nil, client.ErrNotFound
}

func TestLookup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := fakeStore{"web-app": webApp(), client.FirstPartyID: webApp()}
	c, err := client.Lookup(ctx, st, "web-app")
	if err != nil || c.ID != "web-app" {
		t.Fatalf("Lookup(web-app) = %v, %v", c, err)
	}
	// The built-in client wins even over a stored record with its ID.
	c, err = client.Lookup(ctx, st, client.FirstPartyID)
	if err != nil || !c.Public || !c.Allows(client.GrantPassword) {
		t.Fatalf("Lookup(%s) = %+v, %v", client.FirstPartyID, c, err)
	}
	if _, err := client.Lookup(ctx, st, "nobody"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
	if _, err := client.Lookup(ctx, nil, "nobody"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("nil store: want ErrNotFound, got %v", err)
	}
	if c, err := client.Lookup(ctx, nil, client.FirstPartyID); err != nil || c.ID != client.FirstPartyID {
		t.Fatalf("nil store, built-in: %v, %v", c, err)
	}
	if !errors.Is(client.ErrNotFound, session.ErrNotFound) || !errors.Is(client.ErrConflict, session.ErrConflict) {
		t.Fatal("sentinels are not the session package's")
	}
}

func TestKnownGrantsIsACopy(t *testing.T) {
	t.Parallel()
	g := client.KnownGrants()
	g[0] = "implicit"
	if client.KnownGrants()[0] == "implicit" {
		t.Fatal("KnownGrants shares its slice")
	}
}
