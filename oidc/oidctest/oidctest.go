// Package oidctest runs a small, spec-faithful OpenID Provider for tests:
// discovery, JWKS, an authorization endpoint that approves a configured user
// at once, and a token endpoint that checks client authentication, the
// redirect URI and PKCE (S256 only) and issues single-use codes. ID tokens
// are signed with the token package's keys (EdDSA, typ JWT). Hooks let a
// test bend the ID token or the callback to check that a relying party
// refuses it. Sign and LogoutClaims mint back-channel logout tokens, valid
// or bent.
package oidctest

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/token"
)

// User is the end user the provider signs in.
type User struct {
	Subject       string
	Email         string
	EmailVerified bool
	Roles         []string
	OrgID         string
}

// Provider is a running test OpenID Provider. Set its fields before the
// relying party starts a flow; they are read under a lock.
type Provider struct {
	// Issuer is the provider's issuer (its server's URL).
	Issuer string
	// ClientID and ClientSecret are the one registered client's.
	ClientID, ClientSecret string
	// RedirectURI, when set, is the only redirect URI accepted.
	RedirectURI string

	mu sync.Mutex
	// User is who signs in at the authorization endpoint.
	User User
	// IssParam: the iss sent with the authorization response (RFC 9207).
	// Default the issuer; "-" sends none.
	IssParam string
	// Claims, when set, changes the ID token's claims before signing; a
	// changed Issuer signs with the same keys under that issuer.
	Claims func(c *token.Claims)
	// Token, when set, replaces the signed ID token (for alg none, HS256,
	// bad signatures).
	Token func(signed string) string
	// UserInfo, when set, makes discovery name a userinfo_endpoint whose
	// answer, for the user an issued access token belongs to, is
	// UserInfo's result as JSON (nil: 500). Other tokens get 401.
	UserInfo func(u User) map[string]any

	srv    *httptest.Server
	keys   *token.Keys
	priv   ed25519.PrivateKey // the signing key of keys, for Sign
	kid    string
	codes  map[string]grant
	now    func() time.Time
	issued []string
	access map[string]User // access token → user, for UserInfo
}

type grant struct {
	nonce, challenge, redirect string
	user                       User
	expires                    time.Time
}

// New starts a provider for t with one client; it is closed by t.Cleanup.
func New(t testing.TB, clientID, clientSecret string) *Provider {
	t.Helper()
	keys, err := token.NewKeys(token.NewMemKeyStore(), token.KeysConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// The signing key is made here, not by the key set, so that Sign can
	// sign any JWS with it too.
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kid := random()[:16]
	jwk, _ := json.Marshal(map[string]string{"kty": "OKP", "crv": "Ed25519", "kid": kid, "alg": "EdDSA", "use": "sig",
		"x": base64.RawURLEncoding.EncodeToString(pub), "d": base64.RawURLEncoding.EncodeToString(priv.Seed())})
	kj, _ := json.Marshal(map[string]json.RawMessage{"jwk": jwk})
	key, err := token.UnmarshalKey(kj)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Add(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	p := &Provider{ClientID: clientID, ClientSecret: clientSecret, keys: keys, codes: map[string]grant{}, access: map[string]User{}, now: time.Now,
		priv: priv, kid: kid}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /userinfo", p.userinfo)
	p.srv = httptest.NewServer(mux)
	p.Issuer = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// Set changes the provider's settings under its lock.
func (p *Provider) Set(fn func(p *Provider)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(p)
}

// IDTokens returns the ID tokens issued so far.
func (p *Provider) IDTokens() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.issued)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (p *Provider) discovery(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	userinfo := p.UserInfo != nil
	p.mu.Unlock()
	meta := map[string]any{
		"issuer":                                         p.Issuer,
		"authorization_endpoint":                         p.Issuer + "/authorize",
		"token_endpoint":                                 p.Issuer + "/token",
		"jwks_uri":                                       p.Issuer + "/jwks",
		"response_types_supported":                       []string{"code"},
		"subject_types_supported":                        []string{"public"},
		"id_token_signing_alg_values_supported":          []string{"EdDSA"},
		"code_challenge_methods_supported":               []string{"S256"},
		"token_endpoint_auth_methods_supported":          []string{"client_secret_basic", "client_secret_post"},
		"scopes_supported":                               []string{"openid", "email", "profile"},
		"authorization_response_iss_parameter_supported": true,
	}
	if userinfo {
		meta["userinfo_endpoint"] = p.Issuer + "/userinfo"
	}
	writeJSON(w, http.StatusOK, meta)
}

// userinfo answers UserInfo for the bearer of an issued access token.
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	at, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	p.mu.Lock()
	u, known := p.access[at]
	fn := p.UserInfo
	p.mu.Unlock()
	if !ok || !known || fn == nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return
	}
	claims := fn(u)
	if claims == nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	writeJSON(w, http.StatusOK, claims)
}

func (p *Provider) jwks(w http.ResponseWriter, _ *http.Request) {
	b, err := p.keys.JWKS()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func random() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// authorize approves p.User at once and redirects with code, state and iss.
// Errors that must not redirect (unknown client, bad redirect URI) are 400.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	defer p.mu.Unlock()
	redirect := q.Get("redirect_uri")
	if q.Get("client_id") != p.ClientID || redirect == "" || p.RedirectURI != "" && redirect != p.RedirectURI {
		http.Error(w, "invalid client or redirect_uri", http.StatusBadRequest)
		return
	}
	to, err := url.Parse(redirect)
	if err != nil {
		http.Error(w, "invalid redirect_uri", http.StatusBadRequest)
		return
	}
	back := url.Values{}
	if s := q.Get("state"); s != "" {
		back.Set("state", s)
	}
	switch p.IssParam {
	case "":
		back.Set("iss", p.Issuer)
	case "-":
	default:
		back.Set("iss", p.IssParam)
	}
	scopes := strings.Fields(q.Get("scope"))
	switch {
	case q.Get("response_type") != "code":
		back.Set("error", "unsupported_response_type")
	case !slices.Contains(scopes, "openid"):
		back.Set("error", "invalid_scope")
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		back.Set("error", "invalid_request")
	default:
		code := random()
		p.codes[code] = grant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: redirect,
			user: p.User, expires: p.now().Add(time.Minute)}
		back.Set("code", code)
	}
	to.RawQuery = back.Encode()
	http.Redirect(w, r, to.String(), http.StatusFound)
}

func tokenError(w http.ResponseWriter, status int, code string) {
	writeJSON(w, status, map[string]string{"error": code})
}

// token redeems a code once, checking client authentication, redirect_uri
// and the PKCE verifier.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	f := r.PostForm
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = f.Get("client_id"), f.Get("client_secret")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if id != p.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(p.ClientSecret)) != 1 {
		tokenError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	if f.Get("grant_type") != "authorization_code" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	g, ok := p.codes[f.Get("code")]
	delete(p.codes, f.Get("code"))
	if !ok || p.now().After(g.expires) || f.Get("redirect_uri") != g.redirect {
		tokenError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	sum := sha256.Sum256([]byte(f.Get("code_verifier")))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		tokenError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	c := token.Claims{
		Issuer: p.Issuer, Subject: g.user.Subject, Audience: []string{p.ClientID},
		Email: g.user.Email, Roles: g.user.Roles, OrgID: g.user.OrgID,
		Extra: map[string]any{"email_verified": g.user.EmailVerified, "azp": p.ClientID},
	}
	if g.nonce != "" {
		c.Extra["nonce"] = g.nonce
	}
	if p.Claims != nil {
		p.Claims(&c)
	}
	iss, err := token.NewIssuer(p.keys, token.IssuerConfig{Issuer: c.Issuer, Now: p.now})
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error")
		return
	}
	idt, err := iss.Issue(r.Context(), c, token.WithType("JWT"))
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error")
		return
	}
	if p.Token != nil {
		idt = p.Token(idt)
	}
	p.issued = append(p.issued, idt)
	at := random()
	p.access[at] = g.user
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": at, "token_type": "Bearer", "expires_in": 300, "id_token": idt,
	})
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Unsigned re-encodes signed's payload under {"alg":"none"} with an empty
// signature.
func Unsigned(signed string) string {
	parts := strings.Split(signed, ".")
	return b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + parts[1] + "."
}

// HS256 re-signs signed's payload with HMAC-SHA256 under key (say, the
// client secret: the classic algorithm-confusion attack).
func HS256(signed string, key []byte) string {
	parts := strings.Split(signed, ".")
	in := b64(map[string]string{"alg": "HS256", "typ": "JWT"}) + "." + parts[1]
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// BadSignature flips one bit of signed's signature.
func BadSignature(signed string) string {
	i := strings.LastIndexByte(signed, '.')
	sig, _ := base64.RawURLEncoding.DecodeString(signed[i+1:])
	sig[0] ^= 1
	return signed[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

// LogoutEvent is the events member of a back-channel logout token.
const LogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutClaims returns the claims of a valid back-channel logout token for
// the provider's client, naming sub and sid (either may be empty): iss,
// aud, iat (now), exp (in two minutes), a fresh jti and the logout event.
// Change them, then Sign them.
func (p *Provider) LogoutClaims(sub, sid string) map[string]any {
	now := p.now()
	c := map[string]any{
		"iss": p.Issuer, "aud": p.ClientID, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(), "jti": random(),
		"events": map[string]any{LogoutEvent: map[string]any{}},
	}
	if sub != "" {
		c["sub"] = sub
	}
	if sid != "" {
		c["sid"] = sid
	}
	return c
}

// Sign returns a compact JWS of claims, exactly as given, signed with the
// provider's published key (EdDSA) under the header {alg, kid, typ}; an
// empty typ leaves typ out.
func (p *Provider) Sign(typ string, claims map[string]any) string {
	h := map[string]string{"alg": "EdDSA", "kid": p.kid}
	if typ != "" {
		h["typ"] = typ
	}
	in := b64(h) + "." + b64(claims)
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(p.priv, []byte(in)))
}
