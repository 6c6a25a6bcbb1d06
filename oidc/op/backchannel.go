package op

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sessiond/sessiond/client"
)

// deliveryTimeout bounds each back-channel delivery attempt.
const deliveryTimeout = 5 * time.Second

// SessionsEnded is called when sessions end (logout, end-session, "log out
// everywhere", an admin kill, a disabled user, a password change). It takes
// the sessions' login records, revokes what the logins were issued (their
// refresh families, unless offline_access, and access tokens carrying the
// session's sid), and starts
// sending a logout token to every client with a back-channel logout URI, in
// the background: it returns once the store work is done and never waits
// for a client.
func (p *Provider) SessionsEnded(ctx context.Context, sessionIDs ...string) error {
	var all []*Login
	for _, sid := range sessionIDs {
		if sid == "" {
			continue
		}
		ls, err := p.cfg.Store.TakeLogins(ctx, sid)
		if err != nil {
			return fmt.Errorf("op: sessions ended: %w", err)
		}
		all = append(all, ls...)
	}
	return p.ended(ctx, all)
}

// UserSessionsEnded is SessionsEnded for every session of the user except
// keep (empty: all).
func (p *Provider) UserSessionsEnded(ctx context.Context, userID, keep string) error {
	ls, err := p.cfg.Store.TakeUserLogins(ctx, userID, keep)
	if err != nil {
		return fmt.Errorf("op: user sessions ended: %w", err)
	}
	return p.ended(ctx, ls)
}

func (p *Provider) ended(ctx context.Context, logins []*Login) error {
	if len(logins) == 0 {
		return nil
	}
	var errs []error
	denied := map[string]bool{}
	type target struct{ sid, client, user string }
	var targets []target
	seen := map[target]bool{}
	for _, l := range logins {
		if l.FamilyID != "" {
			if err := p.cfg.Revoker.RevokeFamily(ctx, l.FamilyID); err != nil && !isNotFound(err) {
				errs = append(errs, err)
			}
		}
		if !denied[l.SessionID] {
			denied[l.SessionID] = true
			if err := p.cfg.Revoker.DenySession(ctx, l.SessionID); err != nil {
				errs = append(errs, err)
			}
		}
		t := target{l.SessionID, l.ClientID, l.UserID}
		if !seen[t] {
			seen[t] = true
			targets = append(targets, t)
		}
	}
	for _, t := range targets {
		p.deliver(t.client, t.user, t.sid)
	}
	if len(errs) > 0 {
		return fmt.Errorf("op: revoke logins: %w", errors.Join(errs...))
	}
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, client.ErrNotFound) }

// deliver sends one logout token in the background.
func (p *Provider) deliver(clientID, userID, sessionID string) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), deliveryTimeout*time.Duration(len(p.cfg.RetryDelays)+1)+sum(p.cfg.RetryDelays))
		defer cancel()
		result := p.send(ctx, clientID, userID, sessionID)
		if result != "" && p.cfg.OnDelivery != nil {
			p.cfg.OnDelivery(result)
		}
	}()
}

// send delivers a logout token to the client's back-channel logout URI and
// returns the result for metrics ("" when the client has none). Retries
// stop when the client is removed meanwhile.
func (p *Provider) send(ctx context.Context, clientID, userID, sessionID string) string {
	log := p.cfg.Log.With(slog.String("client_id", clientID), slog.String("session_id", sessionID))
	cl, err := client.Lookup(ctx, p.cfg.Clients, clientID)
	if errors.Is(err, client.ErrNotFound) {
		return ""
	}
	if err != nil {
		log.Error("back-channel logout: client lookup failed", slog.Any("error", err))
		return "error"
	}
	if cl.BackchannelLogoutURI == "" {
		return ""
	}
	tok, err := p.LogoutToken(ctx, clientID, userID, sessionID)
	if err != nil {
		log.Error("back-channel logout: cannot sign a logout token", slog.Any("error", err))
		return "error"
	}
	body := url.Values{"logout_token": {tok}}.Encode()
	for attempt := 0; ; attempt++ {
		status, err := p.post(ctx, cl.BackchannelLogoutURI, body)
		if err == nil && status >= 200 && status < 300 {
			log.Info("back-channel logout delivered", slog.Int("attempt", attempt+1))
			return "ok"
		}
		retry := err != nil || status >= 500 || status == http.StatusTooManyRequests
		if !retry || attempt >= len(p.cfg.RetryDelays) {
			log.Warn("back-channel logout failed", slog.Int("attempts", attempt+1), slog.Int("status", status), slog.Any("error", err))
			return "failed"
		}
		select {
		case <-ctx.Done():
			log.Warn("back-channel logout failed", slog.Int("attempts", attempt+1), slog.Any("error", ctx.Err()))
			return "failed"
		case <-time.After(p.cfg.RetryDelays[attempt]):
		}
		// A client removed (or its logout URI dropped) since the last
		// attempt gets no more: it is looked up again before each retry.
		if cl, err = client.Lookup(ctx, p.cfg.Clients, clientID); err != nil || cl.BackchannelLogoutURI == "" {
			if err != nil && !errors.Is(err, client.ErrNotFound) {
				log.Error("back-channel logout: client lookup failed", slog.Any("error", err))
				return "error"
			}
			log.Info("back-channel logout stopped: the client was removed", slog.Int("attempts", attempt+1))
			return "failed"
		}
	}
}

// post sends the form to uri with its own timeout. Errors never contain the
// body (the token).
func (p *Provider) post(ctx context.Context, uri, body string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, deliveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("new request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cache-Control", "no-store")
	res, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	return res.StatusCode, nil
}

// Wait blocks until every back-channel delivery started so far has ended
// (for tests and graceful shutdown).
func (p *Provider) Wait() { p.wg.Wait() }

func sum(ds []time.Duration) time.Duration {
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t
}
