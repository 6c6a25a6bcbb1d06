package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/mfa"
	"github.com/sessiond/sessiond/session"
)

// MFA enables second factors: authenticator apps (TOTP) and recovery codes,
// the /v1/mfa endpoints, the second step of a login and step-up.
type MFA struct {
	// Store keeps the factors (memstore, sqlitestore, pgstore). Required.
	Store mfa.Store
	// Sealer encrypts TOTP secrets at rest: a *token.Sealer from the
	// deployment's key-encryption key. Required.
	Sealer mfa.Sealer
	// Issuer names sessiond in authenticator apps. Default "sessiond".
	Issuer string
	// ReauthWindow is how recent a second factor must be for removing a
	// factor, new recovery codes, a password change and signing out
	// everywhere (mfa.reauth_window). Default 10 minutes.
	ReauthWindow time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// DefaultReauthWindow is MFA.ReauthWindow's default.
const DefaultReauthWindow = 10 * time.Minute

// mfaLoginTTL is how long a login that waits for its second factor lives.
const mfaLoginTTL = 5 * time.Minute

// pendingSuffix ends the Method of a session made by a sign-in that still
// owes its second factor ("password:mfa", "oidc:google:mfa"): until Raise
// makes it aal2 it can only finish (POST /v1/mfa/verify, the factor page) or
// abandon (POST /v1/logout) the login. The marker is the stored Method,
// which no client can change.
const pendingSuffix = ":mfa"

// pendingRoutes are the only routes a half-finished login may use.
var pendingRoutes = []string{"POST /v1/mfa/verify", "POST /v1/logout", "GET " + factorPath, "POST " + factorPath}

var (
	errMFARequired    = errf(codeMFARequired, "finish the login with a second factor at /v1/mfa/verify")
	errStepUpRequired = errf(codeStepUpRequired, "verify a second factor again at /v1/mfa/verify")
	errInvalidCode    = errf(codeInvalidRequest, "the code is not right")
)

// secondFactors is what the other rooms ask of the mfaAPI room (base.mfa):
// nil when second factors are off.
type secondFactors interface {
	// methods lists the second factors the user has confirmed ("totp",
	// "recovery_code"); none means the user signs in with a password alone.
	methods(ctx context.Context, userID string) ([]string, error)
	// gate refuses a half-finished login on every route but finishing or
	// abandoning it.
	gate(r *http.Request, s *session.Session) error
	// stepUp refuses a sensitive operation by a user with a factor whose
	// last second factor is older than the reauth window.
	stepUp(r *http.Request, id *identity) error
	// verify checks a second factor for the caller's cookie session and
	// raises it to aal2 under a new ID: the new session and its token.
	verify(r *http.Request, id *identity, method, code string) (*session.Session, string, error)
}

// mfaAPI is the second-factor room (mfa.go): /v1/mfa, TOTP enrolment,
// recovery codes and /v1/mfa/verify.
type mfaAPI struct {
	*base
	sessions *session.Manager
	accounts *account.Service
	store    mfa.Store
	totp     *mfa.TOTP
	codes    *mfa.RecoveryCodes
	window   time.Duration
	now      func() time.Time
	events   *prometheus.CounterVec
}

// mfaRoutes builds the mfaAPI room when opt.MFA is set, makes it the
// server's secondFactors and gives it its routes.
func mfaRoutes(b *base, opt Options, auth *authn, m *http.ServeMux) error {
	c := opt.MFA
	if c == nil {
		return nil
	}
	if c.Store == nil || c.Sealer == nil {
		return errors.New("server: new: MFA needs Store and Sealer")
	}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	issuer := c.Issuer
	if issuer == "" {
		issuer = "sessiond"
	}
	tp, err := mfa.NewTOTP(mfa.TOTPConfig{Issuer: issuer, Sealer: c.Sealer, Steps: c.Store, Now: now})
	if err != nil {
		return fmt.Errorf("server: new: %w", err)
	}
	rc, err := mfa.NewRecoveryCodes(mfa.RecoveryConfig{Store: c.Store})
	if err != nil {
		return fmt.Errorf("server: new: %w", err)
	}
	window := c.ReauthWindow
	if window <= 0 {
		window = DefaultReauthWindow
	}
	s := &mfaAPI{base: b, sessions: opt.Sessions, accounts: opt.Accounts, store: c.Store, totp: tp, codes: rc,
		window: window, now: now, events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessiond_mfa_events_total",
			Help: "Second-factor events (enrolled, removed, verified, failed, recovery_code_used, step_up_required).",
		}, []string{"event"})}
	b.metrics.reg.MustRegister(s.events)
	b.mfa = s
	m.HandleFunc("GET /v1/mfa", auth.authed(s.handleStatus))
	m.HandleFunc("POST /v1/mfa/totp", auth.authed(s.handleTOTPStart))
	m.HandleFunc("POST /v1/mfa/totp/confirm", auth.authed(s.handleTOTPConfirm))
	m.HandleFunc("DELETE /v1/mfa/totp", auth.authed(s.handleTOTPDelete))
	m.HandleFunc("POST /v1/mfa/recovery-codes", auth.authed(s.handleRecoveryCodes))
	m.HandleFunc("POST /v1/mfa/verify", auth.authed(s.handleVerify))
	return nil
}

// event counts and audits a second-factor event.
func (s *mfaAPI) event(r *http.Request, name, userID string, attrs ...any) {
	s.events.WithLabelValues(name).Inc()
	s.audit(r, "mfa."+name, append([]any{slog.String("user_id", userID)}, attrs...)...)
}

// confirmedTOTP returns the user's TOTP credential when it is confirmed.
func (s *mfaAPI) confirmedTOTP(ctx context.Context, userID string) (mfa.TOTPCredential, bool, error) {
	c, err := s.store.GetTOTP(ctx, userID)
	if errors.Is(err, mfa.ErrNotFound) {
		return mfa.TOTPCredential{}, false, nil
	}
	if err != nil {
		return mfa.TOTPCredential{}, false, err
	}
	return c, !c.Pending(), nil
}

// methods implements secondFactors.
func (s *mfaAPI) methods(ctx context.Context, userID string) ([]string, error) {
	_, ok, err := s.confirmedTOTP(ctx, userID)
	if err != nil || !ok {
		return nil, err
	}
	out := []string{"totp"}
	left, err := s.codes.Remaining(ctx, userID)
	if err != nil {
		return nil, err
	}
	if left > 0 {
		out = append(out, "recovery_code")
	}
	return out, nil
}

// pendingLogin reports whether s is a login still owing its second factor.
func pendingLogin(s *session.Session) bool {
	return strings.HasSuffix(s.Method, pendingSuffix) && s.Assurance.AAL < session.AAL2
}

// gate implements secondFactors. A half-finished login older than
// mfaLoginTTL ends.
func (s *mfaAPI) gate(r *http.Request, sess *session.Session) error {
	if !pendingLogin(sess) {
		return nil
	}
	if s.now().Sub(sess.CreatedAt) > mfaLoginTTL {
		if err := s.sessions.Destroy(r.Context(), sess.ID); err != nil && !errors.Is(err, session.ErrNotFound) {
			return err
		}
		return errUnauthorized
	}
	if slices.Contains(pendingRoutes, r.Pattern) {
		return nil
	}
	return errMFARequired
}

// stepUp implements secondFactors.
func (s *mfaAPI) stepUp(r *http.Request, id *identity) error {
	ms, err := s.methods(r.Context(), id.User.ID)
	if err != nil || len(ms) == 0 {
		return err
	}
	var a session.Assurance
	switch {
	case id.Session != nil:
		a = id.Session.Assurance
	case id.Bearer != nil:
		a = id.Bearer.Assurance
	}
	if a.Satisfies(session.AAL2, s.window, s.now()) {
		return nil
	}
	s.event(r, "step_up_required", id.User.ID)
	return errStepUpRequired
}

// factorsOf is b.mfa.methods when second factors are on; none otherwise.
func (b *base) factorsOf(ctx context.Context, userID string) ([]string, error) {
	if b.mfa == nil {
		return nil, nil
	}
	return b.mfa.methods(ctx, userID)
}

// startLogin creates the session of u's sign-in with meta, for every way
// in (the JSON login, the login form, single sign-on). A user with a second
// factor, whose sign-in (meta.Assurance) has not already proved aal2, gets
// a half-finished login (Method with pendingSuffix) and the factors it
// owes; everyone else a complete session and no factors.
func (b *base) startLogin(r *http.Request, sessions *session.Manager, u *account.User, meta session.Meta) (*session.Session, string, []string, error) {
	ctx := r.Context()
	factors, err := b.factorsOf(ctx, u.ID)
	if err != nil {
		return nil, "", nil, err
	}
	if meta.Assurance.AAL >= session.AAL2 {
		factors = nil
	}
	if len(factors) > 0 {
		meta.Method += pendingSuffix
	}
	sess, tok, err := sessions.Create(ctx, u.ID, meta)
	if err != nil {
		return nil, "", nil, err
	}
	if len(factors) > 0 {
		b.metrics.logins.WithLabelValues("mfa_required").Inc()
		b.audit(r, "login.mfa_required", slog.String("user_id", u.ID), slog.String("session_id", sess.ID))
	}
	return sess, tok, factors, nil
}

// stepUpFor is b.mfa.stepUp when second factors are on; nil otherwise.
func (b *base) stepUpFor(r *http.Request, id *identity) error {
	if b.mfa == nil {
		return nil
	}
	return b.mfa.stepUp(r, id)
}

// handleStatus: GET /v1/mfa.
func (s *mfaAPI) handleStatus(w http.ResponseWriter, r *http.Request, id *identity) {
	ctx := r.Context()
	totp := map[string]any{"enrolled": false}
	c, err := s.store.GetTOTP(ctx, id.User.ID)
	switch {
	case err == nil:
		totp = map[string]any{"enrolled": !c.Pending(), "pending": c.Pending(), "created_at": rfc3339(c.CreatedAt), "confirmed_at": rfc3339(c.ConfirmedAt)}
	case !errors.Is(err, mfa.ErrNotFound):
		s.writeError(w, r, err)
		return
	}
	left, err := s.codes.Remaining(ctx, id.User.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ms, err := s.methods(ctx, id.User.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"methods": orEmpty(ms), "totp": totp, "recovery_codes_left": left})
}

// orEmpty is l, or an empty list for nil (JSON [] rather than null).
func orEmpty(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// handleTOTPStart: POST /v1/mfa/totp. A pending enrolment replaces any other
// pending one; a confirmed authenticator must be removed first.
func (s *mfaAPI) handleTOTPStart(w http.ResponseWriter, r *http.Request, id *identity) {
	ctx := r.Context()
	if _, ok, err := s.confirmedTOTP(ctx, id.User.ID); err != nil || ok {
		if err == nil {
			err = errf(codeConflict, "an authenticator is enrolled already; remove it first")
		}
		s.writeError(w, r, err)
		return
	}
	e, err := s.totp.Enrol(id.User.ID, id.User.Email)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.PutTOTP(ctx, e.Credential); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit(r, "mfa.totp_started", slog.String("user_id", id.User.ID))
	writeJSON(w, http.StatusOK, map[string]string{"secret": e.Secret, "otpauth_uri": e.URI})
}

// codeRequest is the body of POST /v1/mfa/totp/confirm and /v1/mfa/verify.
type codeRequest struct {
	Method string `json:"method"`
	Code   string `json:"code"`
}

// handleTOTPConfirm: POST /v1/mfa/totp/confirm {code} → {recovery_codes}.
func (s *mfaAPI) handleTOTPConfirm(w http.ResponseWriter, r *http.Request, id *identity) {
	var req codeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Code == "" {
		s.writeError(w, r, errf(codeInvalidRequest, "code is required"))
		return
	}
	ctx := r.Context()
	c, err := s.store.GetTOTP(ctx, id.User.ID)
	if errors.Is(err, mfa.ErrNotFound) || err == nil && !c.Pending() {
		err = errf(codeConflict, "no authenticator enrolment is pending; start one with POST /v1/mfa/totp")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err = s.totp.Confirm(ctx, c, req.Code)
	if errors.Is(err, mfa.ErrInvalidCode) {
		s.event(r, "failed", id.User.ID, slog.String("method", "totp"), slog.String("step", "confirm"))
		s.writeError(w, r, errInvalidCode)
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok, err := s.store.ConfirmTOTP(ctx, c)
	if err == nil && !ok {
		err = errf(codeConflict, "the enrolment was confirmed or replaced meanwhile")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	codes, err := s.codes.Generate(ctx, id.User.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.event(r, "enrolled", id.User.ID, slog.String("method", "totp"))
	writeJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
}

// handleTOTPDelete: DELETE /v1/mfa/totp (step-up). The recovery codes go
// with it: they are the way back to an authenticator the user no longer has.
func (s *mfaAPI) handleTOTPDelete(w http.ResponseWriter, r *http.Request, id *identity) {
	if err := s.stepUp(r, id); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	err := s.store.DeleteTOTP(ctx, id.User.ID)
	if errors.Is(err, mfa.ErrNotFound) {
		err = errNotFound
	}
	if err == nil {
		err = s.store.ReplaceRecoveryCodes(ctx, id.User.ID, nil)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.event(r, "removed", id.User.ID, slog.String("method", "totp"))
	w.WriteHeader(http.StatusNoContent)
}

// handleRecoveryCodes: POST /v1/mfa/recovery-codes (step-up): a new set,
// the old one void.
func (s *mfaAPI) handleRecoveryCodes(w http.ResponseWriter, r *http.Request, id *identity) {
	ctx := r.Context()
	if _, ok, err := s.confirmedTOTP(ctx, id.User.ID); err != nil || !ok {
		if err == nil {
			err = errf(codeConflict, "recovery codes need an enrolled authenticator")
		}
		s.writeError(w, r, err)
		return
	}
	if err := s.stepUp(r, id); err != nil {
		s.writeError(w, r, err)
		return
	}
	codes, err := s.codes.Generate(ctx, id.User.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit(r, "mfa.recovery_codes_generated", slog.String("user_id", id.User.ID))
	writeJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
}

// handleVerify: POST /v1/mfa/verify {method, code}. The cookie session —
// a half-finished login, or a session stepping up — is replaced by one with
// a new ID at aal2 (see verify); the answer is a login's.
func (s *mfaAPI) handleVerify(w http.ResponseWriter, r *http.Request, id *identity) {
	var req codeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ns, tok, err := s.verify(r, id, req.Method, req.Code)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.sessions.SetCookie(w, r, ns, tok)
	writeJSON(w, http.StatusOK, map[string]any{"user": viewUser(id.User), "session": viewCurrent(ns), "csrf_token": ns.CSRFToken})
}

// verify implements secondFactors: the one check of a second factor, for
// POST /v1/mfa/verify and the factor page. Every attempt counts toward the
// account's rate limit and lockout (account.CheckSecondFactor); a right
// code raises the cookie session to aal2 under a new ID (the old one ends)
// and returns the new session and its token.
func (s *mfaAPI) verify(r *http.Request, id *identity, method, code string) (*session.Session, string, error) {
	if method != "totp" && method != "recovery_code" {
		return nil, "", errf(codeInvalidRequest, "method must be totp or recovery_code")
	}
	if code == "" || len(code) > 64 {
		return nil, "", errf(codeInvalidRequest, "code is required")
	}
	if id.Session == nil {
		return nil, "", errf(codeInvalidRequest, "a second factor is verified for a cookie session")
	}
	ctx := r.Context()
	uid := id.User.ID
	err := s.accounts.CheckSecondFactor(ctx, uid, s.clientIP(r), func(ctx context.Context) (bool, error) {
		return s.check(ctx, uid, method, code)
	})
	if err != nil {
		s.event(r, "failed", uid, slog.String("method", method))
		return nil, "", err
	}
	ns, tok, err := s.sessions.Raise(ctx, id.Session, session.FactorOTP)
	if err != nil {
		return nil, "", err
	}
	if method == "recovery_code" {
		left, _ := s.codes.Remaining(ctx, uid)
		s.event(r, "recovery_code_used", uid, slog.Int("left", left))
	}
	s.event(r, "verified", uid, slog.String("method", method), slog.String("session_id", ns.ID))
	return ns, tok, nil
}

// check reports whether code is right for the user's method. Wrong,
// malformed, replayed or spent codes, and a method the user has not
// enrolled, are all false.
func (s *mfaAPI) check(ctx context.Context, userID, method, code string) (bool, error) {
	var err error
	if method == "recovery_code" {
		err = s.codes.Use(ctx, userID, code)
	} else {
		c, ok, gerr := s.confirmedTOTP(ctx, userID)
		if gerr != nil || !ok {
			return false, gerr
		}
		err = s.totp.Verify(ctx, c, code)
	}
	if errors.Is(err, mfa.ErrInvalidCode) {
		return false, nil
	}
	return err == nil, err
}
