package server

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/client"
	"github.com/sessiond/sessiond/oidc/op"
	"github.com/sessiond/sessiond/refresh"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/token"
)

// grantAuthorizationCode: grant_type=authorization_code at POST /v1/token.
// The client is authenticated (confidential) or named by client_id
// (public); PKCE binds the code to whoever started the flow either way.
func (s *opServer) grantAuthorizationCode(r *http.Request, form url.Values, cl *client.Client) (tokenResponse, error) {
	code, redirect, verifier := form.Get("code"), form.Get("redirect_uri"), form.Get("code_verifier")
	if code == "" || redirect == "" || verifier == "" {
		return tokenResponse{}, oauthErr(http.StatusBadRequest, "invalid_request", "code, redirect_uri and code_verifier are required")
	}
	ctx := r.Context()
	p, t := s.p, s.tokens
	c, err := p.Redeem(ctx, code, cl.ID, redirect, verifier)
	if err != nil {
		return tokenResponse{}, s.codeError(r, err, cl)
	}
	u, err := t.Users.UserByID(ctx, c.UserID)
	if errors.Is(err, account.ErrNotFound) || err == nil && u.Disabled {
		return tokenResponse{}, oauthErr(http.StatusBadRequest, "invalid_grant", op.ErrInvalidGrant.Description)
	}
	if err != nil {
		return tokenResponse{}, err
	}
	// The session that approved the code must still be live: a code
	// redeemed after logout signs nobody in.
	if sess, err := s.sessions.Get(ctx, c.SessionID); err != nil || sess.UserID != u.ID {
		if err != nil && !session.IsAuthFailure(err) {
			return tokenResponse{}, err
		}
		return tokenResponse{}, oauthErr(http.StatusBadRequest, "invalid_grant", op.ErrInvalidGrant.Description)
	}
	scopes := strings.Fields(c.Scope)
	offline := slices.Contains(scopes, op.ScopeOfflineAccess)
	var fam *refresh.Family
	var rt string
	if offline || cl.Allows(grantRefresh) {
		fam, rt, err = t.Refresh.Start(ctx, u.ID, cl.ID, c.Scope, refresh.Meta{IP: s.clientIP(r), UserAgent: truncate(r.UserAgent(), 512)})
		if err != nil {
			return tokenResponse{}, err
		}
	}
	// Access tokens carry the family as sid (so refreshing and revoking
	// work as for every family), or the session when there is none.
	sid := c.SessionID
	if fam != nil {
		sid = fam.ID
	}
	jti := newJTI()
	exp := t.now().Add(t.AccessTTL).Truncate(time.Second)
	at, err := t.Issuer.Issue(ctx, token.Claims{Subject: u.ID, ExpiresAt: exp, ID: jti, SessionID: sid, ClientID: cl.ID,
		Email: u.Email, Roles: u.Roles, OrgID: u.OrgID, Version: u.TokenVersion, Scope: c.Scope})
	if err != nil {
		return tokenResponse{}, err
	}
	idt, err := p.IDToken(ctx, c, u)
	if err != nil {
		return tokenResponse{}, err
	}
	issued := op.Issued{AccessTokenID: jti, AccessExpiresAt: exp}
	if fam != nil {
		issued.FamilyID = fam.ID
	}
	if err := p.Issued(ctx, c, issued); err != nil {
		return tokenResponse{}, s.codeError(r, err, cl)
	}
	// The login ends with the session: its family too, unless
	// offline_access asked for one that outlives it.
	tied := ""
	if fam != nil && !offline {
		tied = fam.ID
	}
	if err := p.RecordLogin(ctx, c, tied); err != nil {
		return tokenResponse{}, err
	}
	// The session may have ended between the check above and the record:
	// then nobody will take the record, so end what was issued here.
	if _, err := s.sessions.Get(ctx, c.SessionID); err != nil {
		if !session.IsAuthFailure(err) {
			return tokenResponse{}, err
		}
		s.loggedOut(ctx, c.SessionID)
		return tokenResponse{}, oauthErr(http.StatusBadRequest, "invalid_grant", op.ErrInvalidGrant.Description)
	}
	s.audit(r, "token.issued", slog.String("user_id", u.ID), slog.String("client_id", cl.ID), slog.String("grant", grantAuthorizationCode),
		slog.String("session_id", c.SessionID))
	return tokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int64(exp.Sub(t.now()).Seconds()), RefreshToken: rt,
		Scope: c.Scope, IDToken: idt}, nil
}

// codeError maps a code redemption failure to the token endpoint's answer,
// auditing replays.
func (s *opServer) codeError(r *http.Request, err error, cl *client.Client) error {
	if errors.Is(err, op.ErrCodeReplayed) {
		s.audit(r, "oidc.code_replayed", slog.String("client_id", cl.ID))
	}
	var pe *op.Error
	if errors.As(err, &pe) {
		return oauthErr(http.StatusBadRequest, pe.Code, pe.Description)
	}
	return err
}

// handleUserinfo: GET or POST /v1/userinfo (OpenID Connect Core §5.3) with a
// bearer access token whose scope includes openid.
func (s *opServer) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	tok, ok := bearerToken(r)
	if !ok || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sessiond"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "a bearer access token is required"})
		return
	}
	u, b, err := s.tokens.AuthenticateBearer(r.Context(), tok)
	if err != nil {
		if toAPIError(err).Code == codeUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sessiond", error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "the access token is invalid, expired or revoked"})
			return
		}
		s.writeOAuthError(w, r, err)
		return
	}
	if !slices.Contains(strings.Fields(b.Scope), op.ScopeOpenID) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sessiond", error="insufficient_scope", scope="openid"`)
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "insufficient_scope", "error_description": "the access token was not issued for openid"})
		return
	}
	writeJSON(w, http.StatusOK, op.UserClaims(u, b.Scope))
}
