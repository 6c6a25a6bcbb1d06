package server

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/mfa"
)

// adminAPI is the room of user administration for role admin
// (/v1/admin/users...): create, update, find, inspect, export and erase
// users, and list or end their sessions.
type adminAPI struct {
	*base
	ends     *signouts
	accounts *account.Service
	users    account.Store
	// dir finds and erases users; nil when the users store cannot (then
	// the list and erase routes are absent).
	dir account.Directory
	// factors is read for the export; nil when the store keeps none.
	factors factorReader
	// keys retires leaked signing keys; nil without access tokens (then
	// the route is absent).
	keys keyRetirer
	now  func() time.Time
}

// factorReader is what the export reads of a user's second factors.
type factorReader interface {
	GetTOTP(ctx context.Context, userID string) (mfa.TOTPCredential, error)
	Passkeys(ctx context.Context, userID string) ([]mfa.PasskeyCredential, error)
	RecoveryCodesLeft(ctx context.Context, userID string) (int, error)
}

func newAdminAPI(b *base, opt Options, ends *signouts) *adminAPI {
	a := &adminAPI{base: b, ends: ends, accounts: opt.Accounts, users: opt.Users, now: opt.Now}
	if a.now == nil {
		a.now = time.Now
	}
	a.dir, _ = opt.Users.(account.Directory)
	a.factors, _ = opt.Users.(factorReader)
	if opt.Tokens != nil && opt.Tokens.Keys != nil {
		a.keys = opt.Tokens.Keys
	}
	return a
}

func (s *adminAPI) routes(m *http.ServeMux, auth *authn) {
	m.HandleFunc("POST /v1/admin/users", auth.admin(s.handleAdminCreateUser))
	m.HandleFunc("GET /v1/admin/users/{id}", auth.admin(s.handleAdminGetUser))
	m.HandleFunc("PATCH /v1/admin/users/{id}", auth.admin(s.handleAdminPatchUser))
	m.HandleFunc("GET /v1/admin/users/{id}/export", auth.admin(s.handleAdminExportUser))
	m.HandleFunc("GET /v1/admin/users/{id}/sessions", auth.admin(s.handleAdminListSessions))
	m.HandleFunc("DELETE /v1/admin/users/{id}/sessions", auth.admin(s.handleAdminDeleteSessions))
	if s.keys != nil {
		m.HandleFunc("POST /v1/admin/keys/{kid}/retire", auth.admin(s.handleAdminRetireKey))
	}
	if s.dir != nil {
		m.HandleFunc("GET /v1/admin/users", auth.admin(s.handleAdminListUsers))
		m.HandleFunc("DELETE /v1/admin/users/{id}", auth.admin(s.handleAdminDeleteUser))
	}
}

// adminUserView is a user as the admin API shows it: never a password hash.
type adminUserView struct {
	userView
	EmailVerified bool   `json:"email_verified"`
	Locked        bool   `json:"locked"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
}

func viewAdminUser(u *account.User, now time.Time) adminUserView {
	return adminUserView{userView: viewUser(u), EmailVerified: u.EmailVerified, Locked: u.LockedUntil.After(now),
		CreatedAt: u.CreatedAt.UTC().Format(time.RFC3339), UpdatedAt: u.UpdatedAt.UTC().Format(time.RFC3339)}
}

// errBadCursor answers a cursor the server did not hand out.
var errBadCursor = errf(codeInvalidRequest, "cursor is not one this server returned")

// userQuery reads the query string of GET /v1/admin/users.
func userQuery(r *http.Request) (account.UserQuery, error) {
	v := r.URL.Query()
	q := account.UserQuery{EmailPrefix: v.Get("email_prefix"), Role: v.Get("role"), OrgID: v.Get("org")}
	if q.EmailPrefix != "" {
		q.EmailPrefix = account.FoldEmailPrefix(q.EmailPrefix)
	}
	if d := v.Get("disabled"); d != "" {
		b, err := strconv.ParseBool(d)
		if err != nil {
			return q, errf(codeInvalidRequest, "disabled must be true or false")
		}
		q.Disabled = &b
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > account.MaxListLimit {
			return q, errf(codeInvalidRequest, "limit must be a whole number from 1 to %d", account.MaxListLimit)
		}
		q.Limit = n
	}
	if c := v.Get("cursor"); c != "" {
		after, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || len(after) == 0 {
			return q, errBadCursor
		}
		q.After = string(after)
	}
	return q, nil
}

// handleAdminListUsers: GET /v1/admin/users. Users in a stable order; a
// full page carries next_cursor, the opaque cursor of the next page.
func (s *adminAPI) handleAdminListUsers(w http.ResponseWriter, r *http.Request, id *identity) {
	q, err := userQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, err := s.dir.ListUsers(r.Context(), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.now()
	out := make([]adminUserView, len(list))
	for i, u := range list {
		out[i] = viewAdminUser(u, now)
	}
	body := map[string]any{"users": out}
	if len(list) == q.PageLimit() {
		body["next_cursor"] = base64.RawURLEncoding.EncodeToString([]byte(list[len(list)-1].ID))
	}
	writeJSON(w, http.StatusOK, body)
}

// handleAdminGetUser: GET /v1/admin/users/{id}.
func (s *adminAPI) handleAdminGetUser(w http.ResponseWriter, r *http.Request, id *identity) {
	u, err := s.users.UserByID(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, notFoundOr(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": viewAdminUser(u, s.now())})
}

// handleAdminDeleteUser: DELETE /v1/admin/users/{id}, erasure. Every access
// token is refused first (token version bump), every session and refresh
// family ended (the OpenID Provider's relying parties told), then the user
// and everything the users store keeps about them deleted. The audit record
// names only the user ID and the admin.
func (s *adminAPI) handleAdminDeleteUser(w http.ResponseWriter, r *http.Request, id *identity) {
	ctx := r.Context()
	u, err := s.users.UserByID(ctx, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, notFoundOr(err))
		return
	}
	if err := s.ends.endEverything(r, u.ID, "", true, "user_erased"); err != nil {
		s.writeError(w, r, notFoundOr(err))
		return
	}
	if err := s.dir.DeleteUser(ctx, u.ID); err != nil {
		s.writeError(w, r, notFoundOr(err))
		return
	}
	s.audit(r, "admin.user_erased", slog.String("admin_id", id.User.ID), slog.String("user_id", u.ID))
	w.WriteHeader(http.StatusNoContent)
}

// exportView is the data subject's copy: everything stored about the user
// that the admin API can read, without secrets or hashes.
type exportView struct {
	User     adminUserView `json:"user"`
	Sessions []deviceView  `json:"sessions"`
	Factors  *factorsView  `json:"second_factors,omitempty"`
}

type factorsView struct {
	TOTP              *totpView     `json:"totp,omitempty"`
	Passkeys          []passkeyView `json:"passkeys"`
	RecoveryCodesLeft int           `json:"recovery_codes_left"`
}

type totpView struct {
	CreatedAt   string `json:"created_at"`
	ConfirmedAt string `json:"confirmed_at,omitempty"`
}

type passkeyView struct {
	Name       string `json:"name"`
	CreatedAt  string `json:"created_at"`
	LastUsedAt string `json:"last_used_at,omitempty"`
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// handleAdminExportUser: GET /v1/admin/users/{id}/export.
func (s *adminAPI) handleAdminExportUser(w http.ResponseWriter, r *http.Request, id *identity) {
	ctx := r.Context()
	u, err := s.users.UserByID(ctx, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, notFoundOr(err))
		return
	}
	devices, err := s.ends.devices(r, u.ID, "")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := exportView{User: viewAdminUser(u, s.now()), Sessions: devices}
	if s.factors != nil {
		if out.Factors, err = s.exportFactors(ctx, u.ID); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	s.audit(r, "admin.user_exported", slog.String("admin_id", id.User.ID), slog.String("user_id", u.ID))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

func (s *adminAPI) exportFactors(ctx context.Context, userID string) (*factorsView, error) {
	f := &factorsView{Passkeys: []passkeyView{}}
	switch c, err := s.factors.GetTOTP(ctx, userID); {
	case err == nil:
		f.TOTP = &totpView{CreatedAt: stamp(c.CreatedAt), ConfirmedAt: stamp(c.ConfirmedAt)}
	case !errors.Is(err, mfa.ErrNotFound):
		return nil, err
	}
	pks, err := s.factors.Passkeys(ctx, userID)
	if err != nil {
		return nil, err
	}
	for _, p := range pks {
		f.Passkeys = append(f.Passkeys, passkeyView{Name: p.Name, CreatedAt: stamp(p.CreatedAt), LastUsedAt: stamp(p.LastUsedAt)})
	}
	if f.RecoveryCodesLeft, err = s.factors.RecoveryCodesLeft(ctx, userID); err != nil {
		return nil, err
	}
	return f, nil
}
