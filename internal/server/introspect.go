package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/sessiond/sessiond/client"
	"github.com/sessiond/sessiond/refresh"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/token"
)

// handleRevoke: POST /v1/revoke (RFC 7009). 200 for every well-formed
// request, known token or not.
func (s *oauthServer) handleRevoke(w http.ResponseWriter, r *http.Request) {
	form, cl, ok := s.oauthRequest(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	var err error
	if cl == nil {
		if cl, err = s.publicClient(ctx, form.Get("client_id")); err != nil {
			s.writeOAuthError(w, r, err)
			return
		}
	}
	tok := form.Get("token")
	if tok == "" {
		s.writeOAuthError(w, r, oauthErr(http.StatusBadRequest, "invalid_request", "token is required"))
		return
	}
	t := s.tokens
	hint := form.Get("token_type_hint")
	tryAccess := func() error {
		c, err := t.Verifier.Verify(ctx, tok)
		if err != nil {
			if errors.Is(err, token.ErrInvalidToken) {
				return nil
			}
			return err
		}
		if c.ClientID != cl.ID {
			return nil // not the caller's to revoke (RFC 7009 §2.1): 200, nothing done
		}
		if err := t.Refresh.DenyAccess(ctx, c.ID, c.ExpiresAt); err != nil {
			return err
		}
		s.audit(r, "token.revoked", slog.String("user_id", c.Subject), slog.String("kind", "access_token"))
		return nil
	}
	tryRefresh := func() (bool, error) {
		ok, err := s.revokeRefreshOf(ctx, tok, cl)
		if ok {
			s.audit(r, "token.revoked", slog.String("kind", "refresh_token"), slog.String("client_id", cl.ID))
		}
		return ok, err
	}
	if strings.Count(tok, ".") == 2 && hint != "refresh_token" {
		err = tryAccess()
	} else {
		var ok bool
		if ok, err = tryRefresh(); err == nil && !ok && strings.Count(tok, ".") == 2 {
			err = tryAccess()
		}
	}
	if err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// revokeRefreshOf revokes tok's family if it was issued to cl: RFC 7009
// §2.1. A request without credentials is the built-in or a registered public
// client, and so reaches only that public client's tokens.
func (s *oauthServer) revokeRefreshOf(ctx context.Context, tok string, cl *client.Client) (bool, error) {
	rs := s.tokens.Refresh
	return rs.RevokeTokenIf(ctx, tok, func(f *refresh.Family) bool { return f.ClientID == cl.ID })
}

// handleIntrospect: POST /v1/introspect (RFC 7662), for authenticated
// confidential clients. Anything inactive is exactly {"active":false}.
func (s *oauthServer) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	form, cl, ok := s.oauthRequest(w, r)
	if !ok {
		return
	}
	if cl == nil {
		s.writeOAuthError(w, r, errInvalidClient)
		return
	}
	ctx := r.Context()
	tok := form.Get("token")
	if tok == "" {
		s.writeOAuthError(w, r, oauthErr(http.StatusBadRequest, "invalid_request", "token is required"))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	t := s.tokens
	if strings.Count(tok, ".") == 2 {
		u, b, err := t.AuthenticateBearer(ctx, tok)
		if err != nil {
			if toAPIError(err).Code == codeUnauthorized {
				writeJSON(w, http.StatusOK, map[string]bool{"active": false})
				return
			}
			s.writeOAuthError(w, r, err)
			return
		}
		c, _ := t.Verifier.Verify(ctx, tok)
		out := map[string]any{"active": true, "token_type": "Bearer", "sub": u.ID, "exp": b.ExpiresAt, "iat": b.IssuedAt,
			"scope": b.Scope, "client_id": b.ClientID, "sid": b.SessionID, "jti": b.TokenID, "iss": t.IssuerURL,
			"email": u.Email, "roles": u.Roles, "org_id": u.OrgID}
		if c != nil {
			out["aud"] = c.Audience
		}
		putAssurance(out, b.Assurance)
		writeJSON(w, http.StatusOK, out)
		return
	}
	f, err := t.Refresh.Inspect(ctx, tok)
	if err == nil {
		var may bool
		if may, err = s.mayInspectRefresh(ctx, cl, f); err == nil && !may {
			err = refresh.ErrInvalid
		}
	}
	if errors.Is(err, refresh.ErrInvalid) {
		writeJSON(w, http.StatusOK, map[string]bool{"active": false})
		return
	}
	if err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	out := map[string]any{"active": true, "token_type": "refresh_token", "sub": f.UserID,
		"client_id": f.ClientID, "scope": f.Scope, "sid": f.ID, "iat": f.CreatedAt.Unix(), "exp": f.Deadline().Unix(), "iss": t.IssuerURL}
	putAssurance(out, f.Assurance)
	writeJSON(w, http.StatusOK, out)
}

// putAssurance adds acr, amr and auth_time of a to an introspection answer;
// nothing for the zero Assurance.
func putAssurance(out map[string]any, a session.Assurance) {
	if a.AAL == 0 {
		return
	}
	out["acr"], out["amr"] = a.ACR(), a.AMR
	if !a.AuthTime.IsZero() {
		out["auth_time"] = a.AuthTime.Unix()
	}
}

// mayInspectRefresh reports whether cl may learn about a refresh token of
// family f: a confidential client's refresh tokens only to that client (no
// one else has a use for them); public clients' (the built-in one's
// included) to every authenticated client. A removed client's tokens are
// nobody's.
func (s *oauthServer) mayInspectRefresh(ctx context.Context, cl *client.Client, f *refresh.Family) (bool, error) {
	if f.ClientID == cl.ID {
		return true, nil
	}
	owner, err := client.Lookup(ctx, s.tokens.Clients, f.ClientID)
	if errors.Is(err, client.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return owner.Public, nil
}
