package server

import (
	"log/slog"
	"net/http"
)

// createUserRequest is the body of POST /v1/admin/users.
type createUserRequest struct {
	Email    string   `json:"email"`
	Password string   `json:"password"`
	Roles    []string `json:"roles"`
	OrgID    string   `json:"org_id"`
}

// handleAdminCreateUser: POST /v1/admin/users.
func (s *adminAPI) handleAdminCreateUser(w http.ResponseWriter, r *http.Request, id *identity) {
	var req createUserRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.accounts.Register(r.Context(), req.Email, req.Password, req.Roles, req.OrgID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit(r, "admin.user_created", slog.String("admin_id", id.User.ID), slog.String("user_id", u.ID))
	writeJSON(w, http.StatusCreated, map[string]any{"user": viewUser(u)})
}

// patchUserRequest is the body of PATCH /v1/admin/users/{id}.
type patchUserRequest struct {
	Disabled *bool    `json:"disabled"`
	Roles    []string `json:"roles"`
}

// handleAdminPatchUser: PATCH /v1/admin/users/{id}. Disabling ends every
// session, refresh family and access token at once; a role change does too,
// so that no credential minted under the old privileges survives it.
func (s *adminAPI) handleAdminPatchUser(w http.ResponseWriter, r *http.Request, id *identity) {
	var req patchUserRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	before, err := s.users.UserByID(ctx, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, notFoundOr(err))
		return
	}
	u, err := s.accounts.Update(ctx, before.ID, req.Disabled, req.Roles)
	if err != nil {
		s.writeError(w, r, notFoundOr(err))
		return
	}
	if u.TokenVersion != before.TokenVersion {
		reason := "roles_changed"
		if u.Disabled {
			reason = "user_disabled"
		}
		if err := s.ends.endEverything(r, u.ID, "", false, reason); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	s.audit(r, "admin.user_updated", slog.String("admin_id", id.User.ID), slog.String("user_id", u.ID),
		slog.Bool("disabled", u.Disabled))
	writeJSON(w, http.StatusOK, map[string]any{"user": viewUser(u)})
}

// handleAdminListSessions: GET /v1/admin/users/{id}/sessions.
func (s *adminAPI) handleAdminListSessions(w http.ResponseWriter, r *http.Request, id *identity) {
	u, err := s.users.UserByID(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, notFoundOr(err))
		return
	}
	list, err := s.ends.devices(r, u.ID, "")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": list})
}

// handleAdminDeleteSessions: DELETE /v1/admin/users/{id}/sessions — every
// session, refresh family and access token of the user.
func (s *adminAPI) handleAdminDeleteSessions(w http.ResponseWriter, r *http.Request, id *identity) {
	u, err := s.users.UserByID(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, notFoundOr(err))
		return
	}
	if err := s.ends.endEverything(r, u.ID, "", true, "admin_kill"); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit(r, "admin.sessions_revoked", slog.String("admin_id", id.User.ID), slog.String("user_id", u.ID))
	w.WriteHeader(http.StatusNoContent)
}
