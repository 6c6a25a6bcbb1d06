package op

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/sessiond/sessiond/session"
)

// NeedsConsent reports whether the user must approve the request: never for
// first-party clients (client.Client.FirstParty); for third-party clients
// when prompt=consent was asked or the user has not yet granted every
// requested scope.
func (p *Provider) NeedsConsent(ctx context.Context, req *Request, userID string) (bool, error) {
	if req.Client.FirstParty {
		return false, nil
	}
	if req.HasPrompt("consent") {
		return true, nil
	}
	granted, err := p.cfg.Store.Consent(ctx, userID, req.Client.ID)
	if errors.Is(err, session.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("op: consent: %w", err)
	}
	for _, s := range req.Scopes {
		if !slices.Contains(granted, s) {
			return true, nil
		}
	}
	return false, nil
}

// GrantConsent remembers that the user granted the request's scopes to its
// client, adding them to what was granted before.
func (p *Provider) GrantConsent(ctx context.Context, req *Request, userID string) error {
	granted, err := p.cfg.Store.Consent(ctx, userID, req.Client.ID)
	if err != nil && !errors.Is(err, session.ErrNotFound) {
		return fmt.Errorf("op: grant consent: %w", err)
	}
	for _, s := range req.Scopes {
		if !slices.Contains(granted, s) {
			granted = append(granted, s)
		}
	}
	if err := p.cfg.Store.PutConsent(ctx, userID, req.Client.ID, granted); err != nil {
		return fmt.Errorf("op: grant consent: %w", err)
	}
	return nil
}

// RecordLogin remembers that the code's client signed into the code's
// session, with the refresh family it was issued (empty: none, or one that
// outlives the session because of offline_access).
func (p *Provider) RecordLogin(ctx context.Context, c *Code, familyID string) error {
	if err := p.cfg.Store.AddLogin(ctx, &Login{SessionID: c.SessionID, UserID: c.UserID, ClientID: c.ClientID,
		FamilyID: familyID, ExpiresAt: c.SessionExpiresAt}); err != nil {
		return fmt.Errorf("op: record login: %w", err)
	}
	return nil
}
