package server

import (
	"context"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/internal/web"
	"github.com/sessiond/sessiond/mail"
	"github.com/sessiond/sessiond/session"
)

// MailQueue accepts a message for delivery; once Enqueue returns nil the
// message will be sent. mail.Dispatcher implements it.
type MailQueue interface {
	Enqueue(ctx context.Context, m *mail.Message) error
}

// Lifecycle enables the account lifecycle endpoints: sign-up, email
// verification, password recovery and email change, each mailing its link
// through Queue. Nil Options.Lifecycle: none of them is served.
type Lifecycle struct {
	// Templates render the mails (required).
	Templates *mail.Templates
	// Queue takes the rendered mails (required): the outbox's dispatcher.
	Queue MailQueue
	// Product names sessiond in the mails; default "sessiond".
	Product string
	// Signup serves POST /v1/signup; AllowedDomains, when set, limits it to
	// addresses of these (lower-case) domains.
	Signup         bool
	AllowedDomains []string
	// SignupPerIP limits sign-ups per client IP, RecoveryPerIP the mails
	// asked for per client IP (recovery, verification), RecoveryPerEmail
	// those per address. Nil: unlimited.
	SignupPerIP, RecoveryPerIP, RecoveryPerEmail account.Limiter
	// NoticePasswordChanged mails the user when recovery sets a new
	// password; NoticeEmailChanged mails the old address when an email
	// change is asked for and when it happens.
	NoticePasswordChanged, NoticeEmailChanged bool
}

// lifecycle is the room of the account lifecycle (lifecycle.go): JSON API
// endpoints and the one confirmation page a mailed link opens. Every mail
// is rendered and queued after the answer was decided, in the background
// where the answer must not tell whether an account exists.
type lifecycle struct {
	*base
	opt      *Lifecycle
	auth     *authn
	ends     *signouts
	sessions *session.Manager
	accounts *account.Service
	site     *web.Site
	// bg holds the background mailings; slots bounds them.
	bg    sync.WaitGroup
	slots chan struct{}
}

// mailSlots is the most background mailings at once; beyond it a request
// waits for a slot (the answer is the same either way).
const mailSlots = 64

// mailTimeout bounds one background mailing (store look-ups, rendering,
// enqueueing).
const mailTimeout = 30 * time.Second

func newLifecycle(b *base, opt Options, site *web.Site, auth *authn, ends *signouts) *lifecycle {
	if opt.Lifecycle == nil || opt.Lifecycle.Templates == nil || opt.Lifecycle.Queue == nil {
		return nil
	}
	return &lifecycle{base: b, opt: opt.Lifecycle, auth: auth, ends: ends, sessions: opt.Sessions,
		accounts: opt.Accounts, site: site, slots: make(chan struct{}, mailSlots)}
}

// routes registers the room's endpoints; a nil room registers none.
func (l *lifecycle) routes(m *http.ServeMux) {
	if l == nil {
		return
	}
	if l.opt.Signup {
		m.HandleFunc("POST /v1/signup", l.handleSignup)
	}
	m.HandleFunc("POST /v1/email/verify/send", l.auth.authed(l.handleVerifySend))
	m.HandleFunc("GET /v1/email/verify", l.handleVerifyPage)
	m.HandleFunc("POST /v1/email/verify", l.handleVerify)
	m.HandleFunc("POST /v1/email", l.auth.authed(l.handleEmailChange))
	m.HandleFunc("POST /v1/recovery", l.handleRecovery)
	m.HandleFunc("POST /v1/recovery/complete", l.handleRecoveryComplete)
	m.HandleFunc("GET /recovery", l.handleRecoveryPage)
	m.HandleFunc("POST /recovery", l.handleRecoveryForm)
}

// errEmailNotVerified answers a login refused by signup.require_verified_email.
var errEmailNotVerified = errf(codeEmailNotVerified, "the email address is not verified yet; follow the link in the verification mail, or ask for a new one at POST /v1/email/verify/send")

// errInvalidLink is the one answer to an unusable mailed link.
var errInvalidLink = errf(codeInvalidToken, "the link is invalid, used or expired; ask for a new one")

// limit takes one attempt from lim for key, or returns the contract's 429.
func limit(ctx context.Context, lim account.Limiter, key string) error {
	if lim == nil {
		return nil
	}
	wait, err := lim.Reserve(ctx, key)
	if err != nil {
		return err
	}
	if wait > 0 {
		return &apiError{Code: codeRateLimited, Message: "too many requests; try again later", RetryAfter: wait}
	}
	return nil
}

// readPublic checks the origin of an unauthenticated unsafe request and
// decodes its JSON body into v; false when it has answered an error.
func (l *lifecycle) readPublic(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := l.csrf.Check(r); err != nil {
		l.writeError(w, r, errCrossSite)
		return false
	}
	if err := decodeJSON(w, r, v); err != nil {
		l.writeError(w, r, err)
		return false
	}
	return true
}

// accepted is the answer to every request that starts a mailing: 202, the
// same body whatever happened behind it.
func accepted(w http.ResponseWriter) {
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "accepted"})
}

// later runs fn in the background, after the answer, with a context that
// outlives the request by at most mailTimeout. A failure goes to the log.
func (l *lifecycle) later(r *http.Request, what string, fn func(ctx context.Context) error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), mailTimeout)
	l.bg.Add(1)
	go func() {
		defer l.bg.Done()
		defer cancel()
		select {
		case l.slots <- struct{}{}:
		case <-ctx.Done():
			l.log.ErrorContext(ctx, "lifecycle: "+what+": no mailing slot", slog.Any("error", ctx.Err()))
			return
		}
		defer func() { <-l.slots }()
		if err := fn(ctx); err != nil {
			l.log.ErrorContext(ctx, "lifecycle: "+what, slog.Any("error", err))
		}
	}()
}

// send renders kind for to and queues it.
func (l *lifecycle) send(ctx context.Context, kind mail.Kind, to string, d mail.Data) error {
	d.Product, d.Email = l.product(), to
	if d.Time.IsZero() {
		d.Time = time.Now()
	}
	m, err := l.opt.Templates.Message(kind, to, d)
	if err != nil {
		return err
	}
	return l.opt.Queue.Enqueue(ctx, m)
}

func (l *lifecycle) product() string {
	if l.opt.Product != "" {
		return l.opt.Product
	}
	return web.DefaultName
}

// link is the absolute URL of path on sessiond with the token as query.
func (l *lifecycle) link(path, tok string) string {
	return l.origin.abs(path + "?token=" + url.QueryEscape(tok))
}

// sendGrant mails g's link: kind to g.Email, pointing at path.
func (l *lifecycle) sendGrant(ctx context.Context, kind mail.Kind, path string, g *account.Grant) error {
	return l.send(ctx, kind, g.Email, mail.Data{Link: l.link(path, g.Token), Valid: time.Until(g.ExpiresAt).Round(time.Minute)})
}

// emailRequest is the body of POST /v1/signup and POST /v1/recovery.
type emailRequest struct {
	Email    string `json:"email"`
	Password string `json:"password,omitempty"`
}

// handleSignup: POST /v1/signup. A new address gets an unverified account
// and a verification mail; a registered one gets the same 202 and its owner
// a mail saying so. Never a session: the person verifies, then signs in.
func (l *lifecycle) handleSignup(w http.ResponseWriter, r *http.Request) {
	var req emailRequest
	if !l.readPublic(w, r, &req) {
		return
	}
	if req.Email == "" || req.Password == "" {
		l.writeError(w, r, errf(codeInvalidRequest, "email and password are required"))
		return
	}
	norm, err := account.NormalizeEmail(req.Email)
	if err != nil {
		l.writeError(w, r, err)
		return
	}
	if _, domain, _ := strings.Cut(norm, "@"); len(l.opt.AllowedDomains) > 0 && !slices.Contains(l.opt.AllowedDomains, domain) {
		l.writeError(w, r, errf(codeForbidden, "sign-up is not open to addresses of this domain"))
		return
	}
	if err := account.CheckPassword(req.Password, norm, ""); err != nil {
		l.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	if err := limit(ctx, l.opt.SignupPerIP, "signup-ip:"+l.clientIP(r)); err != nil {
		l.audit(r, "signup.rate_limited")
		l.writeError(w, r, err)
		return
	}
	u, err := l.accounts.SignUp(ctx, norm, req.Password)
	switch {
	case errors.Is(err, account.ErrConflict):
		l.audit(r, "signup.existing")
		l.later(r, "signup exists mail", func(ctx context.Context) error {
			return l.send(ctx, mail.KindSignupExists, norm, mail.Data{Link: l.origin.abs("/login")})
		})
	case err != nil:
		l.writeError(w, r, err)
		return
	default:
		l.audit(r, "signup.created", slog.String("user_id", u.ID))
		l.later(r, "verification mail", func(ctx context.Context) error { return l.mailVerification(ctx, u.ID) })
	}
	accepted(w)
}

// mailVerification starts a verification of userID's email and mails it;
// nothing when the email is verified already.
func (l *lifecycle) mailVerification(ctx context.Context, userID string) error {
	g, err := l.accounts.StartVerification(ctx, userID)
	if err != nil || g == nil {
		return err
	}
	return l.sendGrant(ctx, mail.KindVerifyEmail, "/v1/email/verify", g)
}

// handleVerifySend: POST /v1/email/verify/send — mail the signed-in user a
// new verification link (202; nothing is sent when the email is verified).
func (l *lifecycle) handleVerifySend(w http.ResponseWriter, r *http.Request, id *identity) {
	ctx := r.Context()
	if err := limit(ctx, l.opt.RecoveryPerIP, "mail-ip:"+l.clientIP(r)); err != nil {
		l.writeError(w, r, err)
		return
	}
	if err := limit(ctx, l.opt.RecoveryPerEmail, "mail-user:"+id.User.ID); err != nil {
		l.writeError(w, r, err)
		return
	}
	userID := id.User.ID
	l.later(r, "verification mail", func(ctx context.Context) error { return l.mailVerification(ctx, userID) })
	accepted(w)
}

// handleVerifyPage: GET /v1/email/verify?token= — the page a verification
// or email-change link opens. It only asks to confirm: a mail scanner that
// fetches the link consumes nothing.
func (l *lifecycle) handleVerifyPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	l.site.SetHeaders(w.Header())
	l.renderConfirm(w, r, http.StatusOK, web.ConfirmPage{Title: "Confirm your email address",
		Message: "Press the button to confirm that this address is yours.",
		Action:  l.origin.url("/v1/email/verify"), Token: r.URL.Query().Get("token"), Button: "Confirm my address"})
}

func (l *lifecycle) renderConfirm(w http.ResponseWriter, r *http.Request, status int, p web.ConfirmPage) {
	if err := l.site.RenderConfirm(w, status, p); err != nil {
		l.log.ErrorContext(r.Context(), "render confirm page", slog.Any("error", err))
	}
}

// tokenRequest is the body of POST /v1/email/verify.
type tokenRequest struct {
	Token string `json:"token"`
}

// isForm reports whether r's body is an HTML form (the confirm page's).
func isForm(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/x-www-form-urlencoded"
}

// handleVerify: POST /v1/email/verify {token} — verifies the address of a
// verification link, or completes the email change of an email-change link.
// JSON in, JSON out; the confirm page's form gets a page.
func (l *lifecycle) handleVerify(w http.ResponseWriter, r *http.Request) {
	form := isForm(r)
	fail := func(err error) {
		if !form {
			l.writeError(w, r, err)
			return
		}
		ae, status := l.classify(r, err)
		l.renderConfirm(w, r, status, web.ConfirmPage{Title: "This link does not work", Message: ae.Message,
			Back: l.origin.url("/account"), BackLabel: "Go to your account"})
	}
	if err := l.csrf.Check(r); err != nil {
		fail(errCrossSite)
		return
	}
	var req tokenRequest
	if form {
		r.Body = http.MaxBytesReader(w, r.Body, 4096)
		if err := r.ParseForm(); err != nil {
			fail(errf(codeInvalidRequest, "the form could not be read"))
			return
		}
		req.Token = r.PostForm.Get("token")
	} else if err := decodeJSON(w, r, &req); err != nil {
		fail(err)
		return
	}
	u, err := l.confirmEmail(r, req.Token)
	if err != nil {
		fail(err)
		return
	}
	if form {
		l.renderConfirm(w, r, http.StatusOK, web.ConfirmPage{Title: "Address confirmed",
			Message: "Thank you: " + u.Email + " is confirmed.", Back: l.origin.url("/account"), BackLabel: "Go to your account"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": viewUser(u)})
}

// confirmEmail spends a verification or email-change token.
func (l *lifecycle) confirmEmail(r *http.Request, tok string) (*account.User, error) {
	if tok == "" {
		return nil, errf(codeInvalidRequest, "token is required")
	}
	ctx := r.Context()
	u, err := l.accounts.CompleteVerification(ctx, tok)
	if err == nil {
		l.audit(r, "email.verified", slog.String("user_id", u.ID))
		return u, nil
	}
	if !errors.Is(err, account.ErrInvalidToken) {
		return nil, err
	}
	u, old, err := l.accounts.CompleteEmailChange(ctx, tok)
	switch {
	case errors.Is(err, account.ErrInvalidToken):
		return nil, errInvalidLink
	case errors.Is(err, account.ErrConflict):
		return nil, errf(codeConflict, "the new address belongs to another account now")
	case err != nil:
		return nil, err
	}
	l.audit(r, "email.changed", slog.String("user_id", u.ID))
	// The token version moved (access tokens carry the email): every
	// session and refresh family of the old address ends too.
	if err := l.ends.endEverything(r, u.ID, "", false, "email_changed"); err != nil {
		return nil, err
	}
	if l.opt.NoticeEmailChanged {
		ip := l.clientIP(r)
		l.later(r, "email changed notice", func(ctx context.Context) error {
			return l.send(ctx, mail.KindEmailChanged, old, mail.Data{OldEmail: old, NewEmail: u.Email, IP: ip})
		})
	}
	return u, nil
}

// emailChangeRequest is the body of POST /v1/email.
type emailChangeRequest struct {
	NewEmail        string `json:"new_email"`
	CurrentPassword string `json:"current_password"`
}

// handleEmailChange: POST /v1/email — mails a link to the new address (the
// change happens when it is followed) and a notice to the current one.
func (l *lifecycle) handleEmailChange(w http.ResponseWriter, r *http.Request, id *identity) {
	var req emailChangeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		l.writeError(w, r, err)
		return
	}
	if req.NewEmail == "" || req.CurrentPassword == "" {
		l.writeError(w, r, errf(codeInvalidRequest, "new_email and current_password are required"))
		return
	}
	g, err := l.accounts.StartEmailChange(r.Context(), id.User.ID, req.NewEmail, req.CurrentPassword)
	if err != nil {
		l.writeError(w, r, err)
		return
	}
	l.audit(r, "email.change_started", slog.String("user_id", id.User.ID))
	ip := l.clientIP(r)
	l.later(r, "email change mails", func(ctx context.Context) error {
		if err := l.sendGrant(ctx, mail.KindVerifyEmail, "/v1/email/verify", g); err != nil {
			return err
		}
		if !l.opt.NoticeEmailChanged {
			return nil
		}
		return l.send(ctx, mail.KindEmailChanged, g.OldEmail, mail.Data{OldEmail: g.OldEmail, NewEmail: g.Email, IP: ip})
	})
	accepted(w)
}

// handleRecovery: POST /v1/recovery {email} — always 202 with the same
// body. Whether the address has an account, and the mailing, happen after
// the answer, so neither its content nor its timing tells.
func (l *lifecycle) handleRecovery(w http.ResponseWriter, r *http.Request) {
	var req emailRequest
	if !l.readPublic(w, r, &req) {
		return
	}
	if req.Email == "" {
		l.writeError(w, r, errf(codeInvalidRequest, "email is required"))
		return
	}
	if err := limit(r.Context(), l.opt.RecoveryPerIP, "recovery-ip:"+l.clientIP(r)); err != nil {
		l.audit(r, "recovery.rate_limited", slog.String("scope", "ip"))
		l.writeError(w, r, err)
		return
	}
	l.audit(r, "recovery.requested")
	l.later(r, "recovery mail", func(ctx context.Context) error {
		norm, err := account.NormalizeEmail(req.Email)
		if err != nil {
			return nil
		}
		// Over the per-address limit the request is dropped silently:
		// the answer was the same 202.
		if err := limit(ctx, l.opt.RecoveryPerEmail, "recovery-email:"+norm); err != nil {
			var ae *apiError
			if errors.As(err, &ae) {
				l.audit(r, "recovery.rate_limited", slog.String("scope", "email"))
				return nil
			}
			return err
		}
		g, err := l.accounts.StartRecovery(ctx, norm)
		if err != nil || g == nil {
			return err
		}
		return l.sendGrant(ctx, mail.KindPasswordRecovery, "/recovery", g)
	})
	accepted(w)
}

// recoveryCompleteRequest is the body of POST /v1/recovery/complete.
type recoveryCompleteRequest struct {
	Token       string `json:"token"`
	NewPassword string `json:"new_password"`
}

// handleRecoveryComplete: POST /v1/recovery/complete — sets the new
// password, ends every session, refresh family and access token of the
// account, and signs the person in with a fresh session.
func (l *lifecycle) handleRecoveryComplete(w http.ResponseWriter, r *http.Request) {
	var req recoveryCompleteRequest
	if !l.readPublic(w, r, &req) {
		return
	}
	if req.Token == "" || req.NewPassword == "" {
		l.writeError(w, r, errf(codeInvalidRequest, "token and new_password are required"))
		return
	}
	u, sess, tok, err := l.recoverAccount(r, req.Token, req.NewPassword)
	if err != nil {
		l.writeError(w, r, err)
		return
	}
	l.sessions.SetCookie(w, r, sess, tok)
	writeSignedIn(w, u, sess)
}

// recoverAccount completes a recovery: the new password is set, every
// session, refresh family and access token of the account ends, and a fresh
// session is made (the caller sets its cookie).
func (l *lifecycle) recoverAccount(r *http.Request, token, newPassword string) (*account.User, *session.Session, string, error) {
	ctx := r.Context()
	u, err := l.accounts.CompleteRecovery(ctx, token, newPassword)
	if errors.Is(err, account.ErrInvalidToken) {
		err = errInvalidLink
	}
	if err != nil {
		return nil, nil, "", err
	}
	// CompleteRecovery bumped the token version: access tokens are dead.
	// Now every cookie session and refresh family, and whatever session
	// came with this request.
	l.ends.endPresented(r)
	if err := l.ends.endEverything(r, u.ID, "", false, "password_recovered"); err != nil {
		return nil, nil, "", err
	}
	ip := l.clientIP(r)
	sess, tok, err := l.sessions.Create(ctx, u.ID, session.Meta{IP: ip, UserAgent: truncate(r.UserAgent(), 512), Method: "recovery"})
	if err != nil {
		return nil, nil, "", err
	}
	l.audit(r, "recovery.completed", slog.String("user_id", u.ID), slog.String("session_id", sess.ID))
	l.audit(r, "session.created", slog.String("user_id", u.ID), slog.String("session_id", sess.ID))
	if l.opt.NoticePasswordChanged {
		l.later(r, "password changed notice", func(ctx context.Context) error {
			return l.send(ctx, mail.KindPasswordChanged, u.Email, mail.Data{IP: ip})
		})
	}
	return u, sess, tok, nil
}

// handleRecoveryPage: GET /recovery?token= — the page the recovery mail
// links to: a form for the new password. Nothing is spent by opening it.
func (l *lifecycle) handleRecoveryPage(w http.ResponseWriter, r *http.Request) {
	l.renderRecovery(w, r, http.StatusOK, r.URL.Query().Get("token"), "Choose a new password for your account.")
}

func (l *lifecycle) renderRecovery(w http.ResponseWriter, r *http.Request, status int, token, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	l.site.SetHeaders(w.Header())
	p := web.ConfirmPage{Title: "Reset your password", Message: msg}
	if token != "" {
		p.Action, p.Token, p.Password, p.Button = l.origin.url("/recovery"), token, "New password", "Set the new password"
	}
	l.renderConfirm(w, r, status, p)
}

// handleRecoveryForm: POST /recovery — the recovery page's form: on
// success the person is signed in and sent to the account page (303).
func (l *lifecycle) handleRecoveryForm(w http.ResponseWriter, r *http.Request) {
	if err := l.csrf.Check(r); err != nil {
		ae, status := l.classify(r, errCrossSite)
		l.renderConfirm(w, r, status, web.ConfirmPage{Title: "Reset your password", Message: ae.Message})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		l.renderRecovery(w, r, http.StatusBadRequest, "", "The form could not be read.")
		return
	}
	token := r.PostForm.Get("token")
	_, sess, tok, err := l.recoverAccount(r, token, r.PostForm.Get("new_password"))
	if err != nil {
		ae, status := l.classify(r, err)
		if ae.Code == codeInvalidToken {
			token = "" // a dead link: no form that could only fail again
		}
		l.renderRecovery(w, r, status, token, ae.Message)
		return
	}
	l.sessions.SetCookie(w, r, sess, tok)
	seeOther(w, l.origin.url("/account"))
}
