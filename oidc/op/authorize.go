package op

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/sessiond/sessiond/client"
)

// Scopes sessiond knows. openid is required in every authorization request;
// offline_access asks for a refresh token that outlives the browser session.
const (
	ScopeOpenID        = "openid"
	ScopeEmail         = "email"
	ScopeProfile       = "profile"
	ScopeOfflineAccess = "offline_access"
)

// SupportedScopes are the scopes discovery lists.
func SupportedScopes() []string {
	return []string{ScopeOpenID, ScopeEmail, ScopeProfile, ScopeOfflineAccess}
}

// Limits on request parameters.
const (
	maxParamLen = 2048
	// PKCE verifiers are 43–128 characters (RFC 7636 §4.1), so S256
	// challenges are exactly 43.
	challengeLen = 43
)

// Request is a validated authorization request.
type Request struct {
	Client      *client.Client
	RedirectURI string
	State       string
	Nonce       string
	// Scopes are the requested scopes, in request order, without repeats.
	Scopes        []string
	CodeChallenge string
	// Prompt holds the prompt values ("none", "login", "consent",
	// "select_account").
	Prompt []string
	// MaxAge is max_age in seconds; -1 when absent.
	MaxAge int64
	// Params are the request's parameters as received, to carry a request
	// across the login and consent pages.
	Params url.Values
}

// Scope is Scopes space-separated.
func (r *Request) Scope() string { return strings.Join(r.Scopes, " ") }

// HasPrompt reports whether the request carries prompt value v.
func (r *Request) HasPrompt(v string) bool { return slices.Contains(r.Prompt, v) }

// ParseRequest validates an authorization request (OpenID Connect Core
// §3.1.2.1, RFC 7636, RFC 9700).
//
// It returns a nil Request and an *Error when the client or the redirect URI
// cannot be trusted (unknown client_id, missing or unregistered
// redirect_uri): the caller must show the error and never redirect. It
// returns a Request and an *Error for the other failures: the caller
// redirects the error to Request.RedirectURI (see ErrorRedirect). Other
// errors are store failures.
//
// The rules: response_type is exactly "code"; redirect_uri is one of the
// client's registered URIs byte for byte; the client may use the
// authorization_code grant; scope includes openid and every scope is one the
// provider supports or the client is registered for; code_challenge_method
// is S256 (absent or plain is refused) with a 43-character base64url
// challenge; request and request_uri are not supported; response_mode, if
// present, is "query"; max_age is a non-negative integer; prompt=none is not
// combined with another value. No parameter may repeat.
func (p *Provider) ParseRequest(ctx context.Context, q url.Values) (*Request, error) {
	for k, v := range q {
		if len(v) > 1 {
			return nil, oerr("invalid_request", "parameter %s is repeated", strconv.Quote(truncate(k, 64)))
		}
		if len(v[0]) > maxParamLen {
			return nil, oerr("invalid_request", "parameter %s is too long", strconv.Quote(truncate(k, 64)))
		}
	}
	id := q.Get("client_id")
	if id == "" {
		return nil, oerr("invalid_request", "client_id is required")
	}
	cl, err := client.Lookup(ctx, p.cfg.Clients, id)
	if errors.Is(err, client.ErrNotFound) {
		return nil, oerr("invalid_client", "unknown client_id")
	}
	if err != nil {
		return nil, err
	}
	redirect := q.Get("redirect_uri")
	if !cl.HasRedirectURI(redirect) {
		return nil, oerr("invalid_request", "redirect_uri is missing or not registered for this client")
	}
	req := &Request{Client: cl, RedirectURI: redirect, State: q.Get("state"), Nonce: q.Get("nonce"), MaxAge: -1, Params: q}
	// From here on, errors go back to the client's redirect URI.
	if q.Has("request") {
		return req, oerr("request_not_supported", "request objects are not supported")
	}
	if q.Has("request_uri") {
		return req, oerr("request_uri_not_supported", "request_uri is not supported")
	}
	if rt := q.Get("response_type"); rt != "code" {
		return req, oerr("unsupported_response_type", "response_type must be code")
	}
	if rm := q.Get("response_mode"); rm != "" && rm != "query" {
		return req, oerr("invalid_request", "response_mode must be query")
	}
	if !cl.Allows(client.GrantAuthorizationCode) {
		return req, oerr("unauthorized_client", "this client may not use the authorization code flow")
	}
	if req.Scopes, err = p.scopes(cl, q.Get("scope")); err != nil {
		return req, err
	}
	switch q.Get("code_challenge_method") {
	case "S256":
	case "":
		return req, oerr("invalid_request", "PKCE is required: send code_challenge and code_challenge_method=S256")
	default:
		return req, oerr("invalid_request", "code_challenge_method must be S256")
	}
	req.CodeChallenge = q.Get("code_challenge")
	if len(req.CodeChallenge) != challengeLen || !isBase64URL(req.CodeChallenge) {
		return req, oerr("invalid_request", "code_challenge must be the base64url SHA-256 of the code verifier")
	}
	if v := q.Get("max_age"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || !isDigits(v) {
			return req, oerr("invalid_request", "max_age must be a non-negative integer")
		}
		req.MaxAge = n
	}
	if v := q.Get("prompt"); v != "" {
		for _, pv := range strings.Fields(v) {
			switch pv {
			case "none", "login", "consent", "select_account":
			default:
				return req, oerr("invalid_request", "prompt value %s is not supported", strconv.Quote(truncate(pv, 32)))
			}
			if !slices.Contains(req.Prompt, pv) {
				req.Prompt = append(req.Prompt, pv)
			}
		}
		if req.HasPrompt("none") && len(req.Prompt) > 1 {
			return req, oerr("invalid_request", "prompt=none cannot be combined with other values")
		}
	}
	return req, nil
}

// scopes checks the scope parameter: openid is required; every scope must
// be one the provider supports or the client is registered for.
func (p *Provider) scopes(cl *client.Client, raw string) ([]string, error) {
	var out []string
	for _, s := range strings.Fields(raw) {
		if !slices.Contains(SupportedScopes(), s) && !slices.Contains(cl.Scopes, s) {
			return nil, oerr("invalid_scope", "scope %s is not supported", strconv.Quote(truncate(s, 64)))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if !slices.Contains(out, ScopeOpenID) {
		return nil, oerr("invalid_scope", "scope must include openid")
	}
	return out, nil
}

// ErrorRedirect returns the URL that sends err back to the client: the
// request's redirect URI with error, error_description, state and iss
// (RFC 9207). An error that is not an *Error is sent as server_error.
func (p *Provider) ErrorRedirect(req *Request, err error) string {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: "server_error", Description: "the request could not be completed"}
	}
	v := url.Values{"error": {e.Code}, "error_description": {e.Description}}
	return p.redirect(req, v)
}

// SuccessRedirect returns the URL that hands code to the client, with state
// and iss (RFC 9207).
func (p *Provider) SuccessRedirect(req *Request, code string) string {
	return p.redirect(req, url.Values{"code": {code}})
}

func (p *Provider) redirect(req *Request, v url.Values) string {
	if req.State != "" {
		v.Set("state", req.State)
	}
	v.Set("iss", p.cfg.Issuer)
	u, err := url.Parse(req.RedirectURI)
	if err != nil { // registered URIs are validated; be safe anyway
		return req.RedirectURI
	}
	q := u.Query()
	for k, vs := range v {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != "" && len(s) <= 10
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
