package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/client"
	"github.com/sessiond/sessiond/token"
)

// Token types of RFC 8693.
const (
	tokenTypeAccess = "urn:ietf:params:oauth:token-type:access_token"
	tokenTypeJWT    = "urn:ietf:params:oauth:token-type:jwt"
)

// MaxExchangeDepth bounds chains of token exchanges: a token whose act
// claim already nests this many actors cannot be exchanged again.
const MaxExchangeDepth = 4

// targetAudience picks the audience a service token is for: the audience
// or resource parameter (RFC 8707), which the client must be allowed to
// reach; without one, the client's only audience.
func targetAudience(form url.Values, cl *client.Client, required bool) (string, error) {
	aud := form.Get("audience")
	if aud == "" {
		aud = form.Get("resource")
	}
	if aud == "" {
		if required || len(cl.Audiences) != 1 {
			return "", oauthErr(http.StatusBadRequest, "invalid_target", "name the target with the audience parameter")
		}
		return cl.Audiences[0], nil
	}
	if !cl.AllowsAudience(aud) {
		return "", oauthErr(http.StatusBadRequest, "invalid_target", "this client may not obtain tokens for that audience")
	}
	return aud, nil
}

// narrowScope returns requested when every scope in it is in allowed (an
// empty allowed with all=true means "anything"), else invalid_scope.
func narrowScope(requested, allowed string, all bool) (string, error) {
	if requested == "" {
		return allowed, nil
	}
	have := strings.Fields(allowed)
	for _, sc := range strings.Fields(requested) {
		if !all && !slices.Contains(have, sc) {
			return "", oauthErr(http.StatusBadRequest, "invalid_scope", "the requested scope is wider than allowed")
		}
	}
	return strings.Join(strings.Fields(requested), " "), nil
}

// grantClientCredentials: a registered confidential client gets a token for
// itself, limited to one of its audiences and its scopes.
func (s *oauthServer) grantClientCredentials(r *http.Request, form url.Values, cl *client.Client) (tokenResponse, error) {
	aud, err := targetAudience(form, cl, false)
	if err != nil {
		return tokenResponse{}, err
	}
	scope, err := narrowScope(form.Get("scope"), strings.Join(cl.Scopes, " "), false)
	if err != nil {
		return tokenResponse{}, err
	}
	t := s.tokens
	exp := t.now().Add(t.AccessTTL).Truncate(time.Second)
	at, err := t.Issuer.Issue(r.Context(), token.Claims{Subject: cl.ID, Audience: []string{aud}, ExpiresAt: exp,
		ID: newJTI(), ClientID: cl.ID, Scope: scope})
	if err != nil {
		return tokenResponse{}, err
	}
	s.audit(r, "token.issued", slog.String("client_id", cl.ID), slog.String("grant", grantClientCredentials), slog.String("aud", aud))
	return tokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int64(exp.Sub(t.now()).Seconds()), Scope: scope}, nil
}

// verifySubject checks a subject token presented by cl: one of ours, for
// sessiond itself or for cl (a token cl received from an earlier exchange),
// not revoked, its user still allowed.
func (s *oauthServer) verifySubject(ctx context.Context, raw string, cl *client.Client) (*token.Claims, error) {
	t := s.tokens
	c, err := t.Verifier.Verify(ctx, raw)
	if errors.Is(err, token.ErrInvalidToken) {
		own, verr := token.NewVerifier(t.Keys, token.VerifierConfig{Issuer: t.IssuerURL, Audience: cl.ID, Now: t.Now})
		if verr != nil {
			return nil, verr
		}
		c, err = own.Verify(ctx, raw)
	}
	if err != nil {
		if errors.Is(err, token.ErrInvalidToken) {
			return nil, oauthErr(http.StatusBadRequest, "invalid_grant", "the subject token is invalid or expired")
		}
		return nil, err
	}
	denied, err := t.Refresh.Denied(ctx, c.ID, c.SessionID, c.ClientID)
	if err != nil {
		return nil, err
	}
	if denied {
		return nil, oauthErr(http.StatusBadRequest, "invalid_grant", "the subject token was revoked")
	}
	if c.Subject != c.ClientID { // a user's token: the user must still be allowed
		u, err := t.Users.UserByID(ctx, c.Subject)
		if errors.Is(err, account.ErrNotFound) {
			return nil, oauthErr(http.StatusBadRequest, "invalid_grant", "the subject token was revoked")
		}
		if err != nil {
			return nil, err
		}
		if u.Disabled || u.TokenVersion != c.Version {
			return nil, oauthErr(http.StatusBadRequest, "invalid_grant", "the subject token was revoked")
		}
	}
	return c, nil
}

// grantTokenExchange: RFC 8693. The calling client presents a user's access
// token and gets one for a single target audience: never outliving the
// subject token, never wider in scope or roles, with act naming the caller.
func (s *oauthServer) grantTokenExchange(r *http.Request, form url.Values, cl *client.Client) (tokenResponse, error) {
	subject := form.Get("subject_token")
	if subject == "" {
		return tokenResponse{}, oauthErr(http.StatusBadRequest, "invalid_request", "subject_token is required")
	}
	switch form.Get("subject_token_type") {
	case tokenTypeAccess, tokenTypeJWT:
	default:
		return tokenResponse{}, oauthErr(http.StatusBadRequest, "invalid_request", "subject_token_type must be "+tokenTypeAccess)
	}
	switch form.Get("requested_token_type") {
	case "", tokenTypeAccess, tokenTypeJWT:
	default:
		return tokenResponse{}, oauthErr(http.StatusBadRequest, "invalid_request", "only access tokens can be issued")
	}
	if form.Get("actor_token") != "" {
		return tokenResponse{}, oauthErr(http.StatusBadRequest, "invalid_request", "actor_token is not supported: the authenticated client is the actor")
	}
	aud, err := targetAudience(form, cl, true)
	if err != nil {
		return tokenResponse{}, err
	}
	ctx := r.Context()
	sub, err := s.verifySubject(ctx, subject, cl)
	if err != nil {
		return tokenResponse{}, err
	}
	depth := 0
	for a := sub.Act; a != nil; a = a.Act {
		depth++
	}
	if depth >= MaxExchangeDepth {
		return tokenResponse{}, oauthErr(http.StatusBadRequest, "invalid_grant", "the chain of token exchanges is too long")
	}
	scope, err := narrowScope(form.Get("scope"), sub.Scope, sub.Scope == "")
	if err != nil {
		return tokenResponse{}, err
	}
	t := s.tokens
	exp := t.now().Add(t.AccessTTL).Truncate(time.Second)
	if sub.ExpiresAt.Before(exp) {
		exp = sub.ExpiresAt
	}
	act := &token.Actor{Subject: cl.ID, ClientID: cl.ID, Act: sub.Act}
	at, err := t.Issuer.Issue(ctx, token.Claims{Subject: sub.Subject, Audience: []string{aud}, ExpiresAt: exp, ID: newJTI(),
		SessionID: sub.SessionID, ClientID: cl.ID, Email: sub.Email, Roles: sub.Roles, OrgID: sub.OrgID,
		Version: sub.Version, Scope: scope, Act: act})
	if err != nil {
		return tokenResponse{}, err
	}
	s.audit(r, "token.exchanged", slog.String("client_id", cl.ID), slog.String("user_id", sub.Subject), slog.String("aud", aud), slog.Int("depth", depth+1))
	return tokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int64(exp.Sub(t.now()).Seconds()), Scope: scope,
		IssuedTokenType: tokenTypeAccess}, nil
}
