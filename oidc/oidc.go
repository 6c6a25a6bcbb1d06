package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/sessiond/sessiond/account"
)

// Defaults of Options.
const (
	// DefaultFlowTTL is how long a started sign-in may take.
	DefaultFlowTTL = 10 * time.Minute
	// DefaultRetryInterval is the least time between discovery attempts of a
	// provider that is down.
	DefaultRetryInterval = 10 * time.Second
	// Leeway is the clock skew allowed for iat.
	Leeway = 60 * time.Second
)

// Errors of Start and Callback. Callers branch on them to choose what to
// show; none carries text from the request or the provider.
var (
	ErrUnknownProvider = errors.New("oidc: unknown provider")
	ErrUnavailable     = errors.New("oidc: provider unavailable")
	ErrState           = errors.New("oidc: missing, unknown or spent state")
	ErrBinding         = errors.New("oidc: flow belongs to another browser")
	ErrDenied          = errors.New("oidc: provider refused the sign-in")
	ErrIssuer          = errors.New("oidc: issuer mismatch")
	ErrExchange        = errors.New("oidc: code exchange failed")
	ErrIDToken         = errors.New("oidc: invalid id token")
	ErrNonce           = errors.New("oidc: nonce mismatch")
	ErrUserInfo        = errors.New("oidc: userinfo failed or names another subject")
	ErrEmailUnverified = errors.New("oidc: no verified email")
	ErrEmailTaken      = errors.New("oidc: email belongs to another account")
	ErrDisabled        = errors.New("oidc: account disabled")
)

// ClaimNames name the claims (of the ID token, or of UserInfo) that carry
// user attributes.
type ClaimNames struct {
	// Email, Roles, OrgID: defaults email, roles, org_id.
	Email, Roles, OrgID string
}

// ProviderConfig is one external OpenID provider.
type ProviderConfig struct {
	// Name appears in URLs (/v1/oidc/{name}/...). Required.
	Name string
	// Issuer is the provider's issuer; discovery must report it exactly.
	Issuer string
	// ClientID and ClientSecret are sessiond's credentials at the provider
	// (an empty secret: a public client, PKCE only).
	ClientID, ClientSecret string
	// Scopes requested; must include openid. Default openid, email, profile.
	Scopes []string
	// Claims maps claims to user attributes.
	Claims ClaimNames
}

// Options configure a Set.
type Options struct {
	// Flows keeps started sign-ins. Required.
	Flows FlowStore
	// Logouts keeps seen logout-token jtis and which local sessions began
	// from which provider session. Nil: back-channel logout is off
	// (VerifyLogoutToken answers ErrLogoutDisabled).
	Logouts LogoutStore
	// RedirectURL returns the callback URL registered at the provider for
	// the named provider. Required.
	RedirectURL func(provider string) string
	// HTTPClient talks to providers. Default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// FlowTTL bounds a sign-in; at most 10 minutes. Default DefaultFlowTTL.
	FlowTTL time.Duration
	// RetryInterval: see DefaultRetryInterval.
	RetryInterval time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Log receives discovery failures. Default: discarded.
	Log *slog.Logger
}

// Set is the configured providers. It is safe for concurrent use.
type Set struct {
	opt       Options
	providers map[string]*provider
	names     []string
}

type provider struct {
	cfg ProviderConfig

	mu       sync.Mutex
	disc     *discovered // nil until discovery succeeded
	lastTry  time.Time
	lastErrs error
}

type discovered struct {
	oauth    oauth2.Config
	verifier *gooidc.IDTokenVerifier
	// logoutVerifier checks logout tokens: the same keys, algorithms,
	// issuer and audience, with exp left to VerifyLogoutToken.
	logoutVerifier *gooidc.IDTokenVerifier
	issParam       bool // authorization_response_iss_parameter_supported
	// op fetches UserInfo; nil when discovery names no userinfo_endpoint.
	op *gooidc.Provider
}

// NewSet validates cfgs and runs discovery for each provider; a provider
// that cannot be reached is logged and retried later, not an error.
func NewSet(ctx context.Context, cfgs []ProviderConfig, opt Options) (*Set, error) {
	if opt.Flows == nil || opt.RedirectURL == nil {
		return nil, errors.New("oidc: new set: Flows and RedirectURL are required")
	}
	if opt.HTTPClient == nil {
		opt.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opt.FlowTTL <= 0 || opt.FlowTTL > DefaultFlowTTL {
		opt.FlowTTL = DefaultFlowTTL
	}
	if opt.RetryInterval <= 0 {
		opt.RetryInterval = DefaultRetryInterval
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	s := &Set{opt: opt, providers: map[string]*provider{}}
	for _, c := range cfgs {
		if c.Name == "" || c.Issuer == "" || c.ClientID == "" {
			return nil, fmt.Errorf("oidc: new set: provider %q: name, issuer and client_id are required", c.Name)
		}
		if _, dup := s.providers[c.Name]; dup {
			return nil, fmt.Errorf("oidc: new set: provider %q listed twice", c.Name)
		}
		if len(c.Scopes) == 0 {
			c.Scopes = []string{gooidc.ScopeOpenID, "email", "profile"}
		}
		if !slices.Contains(c.Scopes, gooidc.ScopeOpenID) {
			return nil, fmt.Errorf("oidc: new set: provider %q: scopes must include openid", c.Name)
		}
		c.Claims.Email = or(c.Claims.Email, "email")
		c.Claims.Roles = or(c.Claims.Roles, "roles")
		c.Claims.OrgID = or(c.Claims.OrgID, "org_id")
		p := &provider{cfg: c}
		s.providers[c.Name] = p
		s.names = append(s.names, c.Name)
		if _, err := s.discover(ctx, p); err != nil {
			opt.Log.Warn("oidc: discovery failed; retrying on demand", "provider", c.Name, "error", err)
		}
	}
	return s, nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Names lists the providers in configuration order.
func (s *Set) Names() []string { return slices.Clone(s.names) }

// discover returns the provider's discovered configuration, running
// discovery when it has not succeeded yet (at most once per RetryInterval).
func (s *Set) discover(ctx context.Context, p *provider) (*discovered, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.disc != nil {
		return p.disc, nil
	}
	now := s.opt.Now()
	if !p.lastTry.IsZero() && now.Sub(p.lastTry) < s.opt.RetryInterval {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, p.lastErrs)
	}
	p.lastTry = now
	// The key set go-oidc builds keeps this context for later JWKS fetches:
	// it must outlive the request that triggered discovery.
	dctx := gooidc.ClientContext(context.WithoutCancel(ctx), s.opt.HTTPClient)
	op, err := gooidc.NewProvider(dctx, p.cfg.Issuer)
	if err != nil {
		p.lastErrs = err
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var meta struct {
		IssParam    bool     `json:"authorization_response_iss_parameter_supported"`
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
		PKCE        []string `json:"code_challenge_methods_supported"`
	}
	if err := op.Claims(&meta); err != nil {
		p.lastErrs = err
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	ep := op.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	if len(meta.AuthMethods) > 0 && !slices.Contains(meta.AuthMethods, "client_secret_basic") &&
		slices.Contains(meta.AuthMethods, "client_secret_post") {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	p.disc = &discovered{
		oauth: oauth2.Config{
			ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret, Endpoint: ep,
			RedirectURL: s.opt.RedirectURL(p.cfg.Name), Scopes: p.cfg.Scopes,
		},
		verifier:       op.Verifier(&gooidc.Config{ClientID: p.cfg.ClientID, Now: s.opt.Now}),
		logoutVerifier: op.Verifier(&gooidc.Config{ClientID: p.cfg.ClientID, Now: s.opt.Now, SkipExpiryCheck: true}),
		issParam:       meta.IssParam,
	}
	if op.UserInfoEndpoint() != "" {
		p.disc.op = op
	}
	p.lastErrs = nil
	return p.disc, nil
}

// flow is what Start stores and Callback takes back.
type flow struct {
	Provider string    `json:"p"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	Binding  string    `json:"b"` // SHA-256 of the browser's binding value
	ReturnTo string    `json:"r,omitempty"`
	Created  time.Time `json:"c"`
}

// Start begins a sign-in with the named provider for the browser holding
// binding (a secret random value the caller keeps in a cookie; see
// NewBinding). returnTo, already checked by the caller, is handed back by
// Callback. It returns the provider's authorization URL.
func (s *Set) Start(ctx context.Context, name, binding, returnTo string) (string, error) {
	p, ok := s.providers[name]
	if !ok {
		return "", ErrUnknownProvider
	}
	if binding == "" {
		return "", errors.New("oidc: start: empty binding")
	}
	d, err := s.discover(ctx, p)
	if err != nil {
		return "", fmt.Errorf("oidc: start: %w", err)
	}
	state, nonce := random(), random()
	f := flow{Provider: name, Nonce: nonce, Verifier: oauth2.GenerateVerifier(), Binding: hash(binding),
		ReturnTo: returnTo, Created: s.opt.Now()}
	data, err := json.Marshal(f)
	if err != nil {
		return "", fmt.Errorf("oidc: start: %w", err)
	}
	if err := s.opt.Flows.PutFlow(ctx, hash(state), data, f.Created.Add(s.opt.FlowTTL)); err != nil {
		return "", fmt.Errorf("oidc: start: %w", err)
	}
	return d.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(f.Verifier), gooidc.Nonce(nonce)), nil
}

// Identity is a verified external identity with its mapped attributes.
type Identity struct {
	Provider string
	// Issuer and Subject name the identity; accounts link by them.
	Issuer, Subject string
	// Email is set only when the provider marked it verified
	// (email_verified: true).
	Email string
	// Roles and OrgID are present when the provider sent the mapped claims
	// (HasRoles, HasOrgID tell).
	Roles            []string
	OrgID            string
	HasRoles, HasOrg bool
	// SessionID is the ID token's sid: the provider's session, named again
	// by its back-channel logout tokens (see RecordSession). Often empty.
	SessionID string
	// ReturnTo is what Start was given.
	ReturnTo string
	// AMR is the ID token's amr (RFC 8176): how the provider authenticated
	// the user, when it says (session.FactorFederated keeps what it can).
	AMR []string
}

// Callback finishes a sign-in: query is the callback's query string and
// binding the browser's binding value. It checks state (single use, this
// provider, this browser), the iss response parameter (RFC 9207), exchanges
// the code with the PKCE verifier and verifies the ID token: signature with
// the provider's published keys (asymmetric algorithms only), iss exactly as
// discovered, aud and azp, nonce, exp and iat.
//
// When discovery names a userinfo_endpoint and the token response carries
// an access token, it then fetches UserInfo with that token (OpenID
// Connect Core §5.3), where providers following §5.4 put the email and
// profile claims. Its sub must equal the ID token's (§5.3.2), else
// ErrUserInfo, as for a failed request. Claims are merged: the ID token's
// win, UserInfo fills in the ones it lacks; email_verified goes with the
// email it describes, so it is read from UserInfo only when the email is.
func (s *Set) Callback(ctx context.Context, name string, query url.Values, binding string) (*Identity, error) {
	p, ok := s.providers[name]
	if !ok {
		return nil, ErrUnknownProvider
	}
	state := query.Get("state")
	if state == "" {
		return nil, ErrState
	}
	data, err := s.opt.Flows.TakeFlow(ctx, hash(state))
	if err != nil {
		if isNotFound(err) {
			return nil, ErrState
		}
		return nil, fmt.Errorf("oidc: callback: %w", err)
	}
	var f flow
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("oidc: callback: decode flow: %w", err)
	}
	if f.Provider != name {
		return nil, ErrState
	}
	if binding == "" || subtle.ConstantTimeCompare([]byte(hash(binding)), []byte(f.Binding)) != 1 {
		return nil, ErrBinding
	}
	d, err := s.discover(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("oidc: callback: %w", err)
	}
	if iss, sent := query["iss"]; sent {
		if len(iss) != 1 || iss[0] != p.cfg.Issuer {
			return nil, ErrIssuer
		}
	} else if d.issParam {
		return nil, ErrIssuer
	}
	if query.Get("error") != "" {
		return nil, ErrDenied
	}
	code := query.Get("code")
	if code == "" {
		return nil, ErrExchange
	}
	tok, err := d.oauth.Exchange(gooidc.ClientContext(ctx, s.opt.HTTPClient), code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrExchange, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("%w: no id_token in the token response", ErrIDToken)
	}
	idt, err := d.verifier.Verify(gooidc.ClientContext(ctx, s.opt.HTTPClient), raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIDToken, err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIDToken, err)
	}
	// azp (OIDC Core 3.1.3.7): when present it must be us; with several
	// audiences it must be present.
	azp, _ := claims["azp"].(string)
	if (azp != "" || len(idt.Audience) > 1) && azp != p.cfg.ClientID {
		return nil, fmt.Errorf("%w: azp", ErrIDToken)
	}
	if idt.Nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		return nil, ErrNonce
	}
	now := s.opt.Now()
	if idt.IssuedAt.IsZero() || idt.IssuedAt.After(now.Add(Leeway)) || idt.IssuedAt.Before(f.Created.Add(-Leeway)) {
		return nil, fmt.Errorf("%w: iat", ErrIDToken)
	}
	if idt.Subject == "" {
		return nil, fmt.Errorf("%w: sub", ErrIDToken)
	}
	// attrs are the user's attributes: the ID token's claims, with
	// UserInfo's merged in. Protocol claims (sid) come from the ID token.
	attrs := claims
	if d.op != nil && tok.AccessToken != "" {
		if attrs, err = s.userInfo(ctx, d.op, tok, idt.Subject, claims, p.cfg.Claims.Email); err != nil {
			return nil, err
		}
	}
	id := &Identity{Provider: name, Issuer: idt.Issuer, Subject: idt.Subject, ReturnTo: f.ReturnTo}
	if sid, _ := claims["sid"].(string); len(sid) <= 256 {
		id.SessionID = sid
	}
	if amr, ok := claims["amr"].([]any); ok {
		for _, v := range amr {
			if v, ok := v.(string); ok {
				id.AMR = append(id.AMR, v)
			}
		}
	}
	if email, _ := attrs[p.cfg.Claims.Email].(string); email != "" && verified(attrs["email_verified"]) {
		id.Email = email
	}
	if v, ok := attrs[p.cfg.Claims.Roles]; ok {
		id.HasRoles = true
		id.Roles = rolesClaim(v)
	}
	if v, ok := attrs[p.cfg.Claims.OrgID].(string); ok {
		id.OrgID, id.HasOrg = v, true
	}
	return id, nil
}

// userInfo fetches the UserInfo of tok's user and merges it into the ID
// token's claims (see Callback). sub is the ID token's subject.
func (s *Set) userInfo(ctx context.Context, op *gooidc.Provider, tok *oauth2.Token, sub string, claims map[string]any, emailClaim string) (map[string]any, error) {
	ui, err := op.UserInfo(gooidc.ClientContext(ctx, s.opt.HTTPClient), oauth2.StaticTokenSource(tok))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUserInfo, err)
	}
	var extra map[string]any
	if err := ui.Claims(&extra); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUserInfo, err)
	}
	if got, _ := extra["sub"].(string); got != sub {
		return nil, fmt.Errorf("%w: sub %q, the id token's is %q", ErrUserInfo, got, sub)
	}
	_, idEmail := claims[emailClaim]
	merged := make(map[string]any, len(claims)+len(extra))
	for k, v := range extra {
		if k == "email_verified" && idEmail {
			continue // describes another email than the one kept
		}
		merged[k] = v
	}
	for k, v := range claims {
		merged[k] = v
	}
	return merged, nil
}

// rolesClaim reads a roles claim — a JSON array (strings kept, other
// elements ignored) or one space-separated string — and cleans it as every
// user's roles are cleaned (account.CleanRoles); nil when no role is left.
func rolesClaim(v any) []string {
	var roles []string
	switch r := v.(type) {
	case []any:
		for _, e := range r {
			if s, ok := e.(string); ok {
				roles = append(roles, s)
			}
		}
	case string:
		roles = strings.Fields(r)
	}
	if r := account.CleanRoles(roles); len(r) > 0 {
		return r
	}
	return nil
}

// verified reads email_verified: true, or the string "true" some providers
// send.
func verified(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		return b == "true"
	}
	return false
}

// NewBinding returns a fresh browser-binding value: 256 random bits,
// base64url.
func NewBinding() string { return random() }

func random() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(h[:])
}
