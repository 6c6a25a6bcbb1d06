package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sessiond/sessiond/internal/config"
	"github.com/sessiond/sessiond/internal/server"
	"github.com/sessiond/sessiond/refresh"
	"github.com/sessiond/sessiond/token"
)

// JWKSMaxAge is how long clients may cache the published key set. A rotated
// key is published for PublishDelay before it signs, so every cache already
// holds it when the first token it signed arrives.
const JWKSMaxAge = 5 * time.Minute

// KeyRefreshInterval is how often every node reloads the signing keys from
// the store (token.Keys.Run): the bound within which a key retired on one
// node (`sessiond keys retire`, POST /v1/admin/keys/{kid}/retire) stops
// verifying, and signing, on every other node.
const KeyRefreshInterval = 10 * time.Second

// buildTokens wires access and refresh tokens. It returns nil when the
// session store cannot hold refresh families.
func buildTokens(ctx context.Context, cfg *config.Config, stores *Stores, log *slog.Logger) (*server.Tokens, error) {
	if stores.Refresh == nil {
		return nil, nil
	}
	kc := token.KeysConfig{
		Alg: token.Alg(cfg.Token.Alg), TokenTTL: cfg.Token.AccessTTL.Duration, Leeway: cfg.Token.Leeway.Duration,
		PublishDelay: JWKSMaxAge + time.Minute, RefreshInterval: KeyRefreshInterval, Logger: log,
	}
	kek := cfg.Token.KeyEncryptionKeyBytes()
	if kek == nil && stores.SharedKeys {
		// SECURITY.md rule 11: private keys in a shared store are encrypted.
		return nil, errors.New("app: token.key_encryption_key is required when store.users is PostgreSQL: " +
			"private signing keys are sealed with it in the shared database (generate one with: openssl rand -base64 32)")
	}
	if kek != nil {
		sealer, err := token.NewSealer(kek)
		if err != nil {
			return nil, fmt.Errorf("app: token.key_encryption_key: %w", err)
		}
		kc.Sealer = sealer
	}
	keys, err := token.NewKeys(stores.Keys, kc)
	if err != nil {
		return nil, fmt.Errorf("app: keys: %w", err)
	}
	if kc.Alg == token.HS256 {
		k, err := token.NewHMACKey([]byte(cfg.Token.HS256Secret.Reveal()))
		if err != nil {
			return nil, fmt.Errorf("app: token.hs256_secret: %w", err)
		}
		if err := keys.Add(ctx, k); err != nil {
			return nil, fmt.Errorf("app: keys: %w", err)
		}
	}
	if err := keys.Ensure(ctx); err != nil {
		return nil, fmt.Errorf("app: keys: %w", err)
	}
	aud := cfg.Token.Audience
	issuer, err := token.NewIssuer(keys, token.IssuerConfig{Issuer: cfg.Token.Issuer, Audience: aud, TTL: cfg.Token.AccessTTL.Duration})
	if err != nil {
		return nil, fmt.Errorf("app: token issuer: %w", err)
	}
	verifier, err := token.NewVerifier(keys, token.VerifierConfig{Issuer: cfg.Token.Issuer, Audience: aud[0], Leeway: orNone(cfg.Token.Leeway.Duration)})
	if err != nil {
		return nil, fmt.Errorf("app: token verifier: %w", err)
	}
	rs, err := refresh.New(refresh.Config{Store: stores.Refresh, TTL: cfg.Token.RefreshTTL.Duration,
		IdleTTL: cfg.Token.RefreshIdleTTL.Duration, Grace: orNone(cfg.Token.RefreshGrace.Duration), AccessTTL: cfg.Token.AccessTTL.Duration})
	if err != nil {
		return nil, err
	}
	var clients server.ClientStore
	if stores.Clients != nil {
		clients = stores.Clients
	}
	return &server.Tokens{Keys: keys, Issuer: issuer, Verifier: verifier, Refresh: rs, Clients: clients, Users: stores.Users,
		IssuerURL: cfg.Token.Issuer, Audience: aud, AccessTTL: cfg.Token.AccessTTL.Duration, JWKSMaxAge: JWKSMaxAge}, nil
}

// orNone turns a configured 0 (token.leeway, token.refresh_grace: "none";
// Load has filled in every default) into the libraries' "none", which is
// negative: their 0 means their default.
func orNone(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// rotateEvery rotates the signing key whenever the newest key is older than
// period (token.rotation_period).
func rotateEvery(ctx context.Context, keys *token.Keys, period time.Duration, log *slog.Logger) {
	t := time.NewTicker(min(period/10, time.Hour))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var newest time.Time
		for _, k := range keys.List() {
			if k.CreatedAt.After(newest) {
				newest = k.CreatedAt
			}
		}
		if time.Since(newest) < period {
			continue
		}
		kid, err := keys.Rotate(ctx)
		if err != nil {
			log.Error("scheduled key rotation failed", slog.Any("error", err))
			continue
		}
		log.Info("audit", slog.Bool("audit", true), slog.String("event", "keys.rotated"), slog.String("kid", kid), slog.String("reason", "rotation_period"))
	}
}
