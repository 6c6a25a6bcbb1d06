package server

import (
	"context"
	"log/slog"
	"net/http"
)

// keyRetirer is what the admin API needs of the signing key set to answer a
// leaked key (*token.Keys).
type keyRetirer interface {
	Retire(ctx context.Context, kid string) (string, error)
}

// handleAdminRetireKey: POST /v1/admin/keys/{kid}/retire — a leaked
// signing key leaves the JWKS at once, another key signs from now on, and
// no token the retired key signed verifies any more (on other nodes once
// they reload the key set: docs/security.md, "Signing key leaked").
func (s *adminAPI) handleAdminRetireKey(w http.ResponseWriter, r *http.Request, id *identity) {
	kid := r.PathValue("kid")
	signer, err := s.keys.Retire(r.Context(), kid)
	if err != nil {
		s.writeError(w, r, notFoundOr(err))
		return
	}
	s.audit(r, "keys.retired", slog.String("admin_id", id.User.ID), slog.String("kid", kid), slog.String("signing_kid", signer))
	writeJSON(w, http.StatusOK, map[string]string{"retired": kid, "kid": signer})
}
