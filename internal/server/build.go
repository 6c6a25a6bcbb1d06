package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/client"
	"github.com/sessiond/sessiond/internal/config"
	"github.com/sessiond/sessiond/oidc"
	"github.com/sessiond/sessiond/oidc/provider"
	"github.com/sessiond/sessiond/ratelimit"
	"github.com/sessiond/sessiond/refresh"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/token"
)

// App is a fully wired sessiond: stores opened, services built, HTTP
// handler ready. The CLI's commands use the same App so that every command
// sees the same stores.
type App struct {
	Config   *config.Config
	Log      *slog.Logger
	Users    account.Store
	Accounts *account.Service
	Sessions *session.Manager
	Tokens   *Tokens
	Clients  client.Store
	Server   *Server

	closers []io.Closer
}

// Build opens the stores and wires every service for cfg.
func Build(ctx context.Context, cfg *config.Config, log *slog.Logger) (*App, error) {
	if log == nil {
		log = discard
	}
	stores, err := OpenStores(ctx, cfg)
	if err != nil {
		return nil, err
	}
	app := &App{Config: cfg, Log: log, Users: stores.Users, Clients: stores.Clients, closers: []io.Closer{stores}}
	hasher, err := account.NewHasher(account.Params{
		Memory: uint32(cfg.Password.MemoryKiB), Time: uint32(cfg.Password.Time),
		Threads: uint8(cfg.Password.Threads), MaxConcurrent: cfg.Password.MaxConcurrent,
	})
	if err != nil {
		app.Close()
		return nil, fmt.Errorf("server: password hasher: %w", err)
	}
	audit := log.With(slog.Bool("audit", true))
	perIP, perAcct := stores.Limiters[0], stores.Limiters[1]
	if perIP == nil {
		m := ratelimit.NewMemory(cfg.RateLimit.LoginPerIP, nil)
		app.closers = append(app.closers, m)
		perIP = m
	}
	if perAcct == nil {
		m := ratelimit.NewMemory(cfg.RateLimit.LoginPerAccount, nil)
		app.closers = append(app.closers, m)
		perAcct = m
	}
	app.Accounts = &account.Service{
		Store: stores.Users, Hasher: hasher, PerIP: perIP, PerAccount: perAcct,
		LockoutAfter: cfg.RateLimit.LockoutAfter, LockoutDuration: cfg.RateLimit.LockoutDuration.Duration,
		Audit: audit,
	}
	var srv *Server
	cookie := session.CookieConfig{Domain: cfg.Cookie.Domain, IsTLS: func(r *http.Request) bool { return srv.isTLS(r) }}
	switch cfg.Cookie.Secure {
	case "true":
		cookie.Secure = session.SecureAlways
	case "false":
		cookie.Secure = session.SecureNever
	}
	app.Sessions, err = session.NewManager(session.Config{
		Store: stores.Sessions, IdleTimeout: cfg.Session.IdleTimeout.Duration,
		AbsoluteTimeout: cfg.Session.AbsoluteTimeout.Duration, TouchInterval: cfg.Session.TouchInterval.Duration,
		MaxPerUser: cfg.Session.MaxPerUser, Cookie: cookie,
	})
	if err != nil {
		app.Close()
		return nil, err
	}
	tokens, err := buildTokens(ctx, cfg, stores, log)
	if err != nil {
		app.Close()
		return nil, err
	}
	app.Tokens = tokens
	if tokens != nil {
		bg, stop := context.WithCancel(context.Background())
		app.closers = append(app.closers, closerFunc(func() error { stop(); return nil }))
		go func() { _ = tokens.Keys.Run(bg) }()
		if p := cfg.Token.RotationPeriod.Duration; p > 0 {
			go rotateEvery(bg, tokens.Keys, p, log)
		}
	}
	gw, err := NewGateway(cfg.Gateway, GatewayOptions{})
	if err == nil && gw.NeedsTokens() && tokens == nil {
		err = errors.New("server: gateway.routes: internal_jwt needs access tokens, which this session store cannot back")
	}
	if err != nil {
		app.Close()
		return nil, err
	}
	sso, err := buildOIDC(ctx, cfg, stores, log)
	if err != nil {
		app.Close()
		return nil, err
	}
	srv, err = New(Options{
		OIDC:     sso,
		Provider: buildProvider(stores, tokens),
		Gateway:  gw,
		Sessions: app.Sessions, Accounts: app.Accounts, Users: stores.Users, Ready: stores.Ready, Tokens: tokens,
		HSTS:           cfg.TLS.HSTS(),
		TrustedProxies: cfg.TrustedProxies, Log: log, Audit: audit, AccessLog: cfg.Log.Level == "debug", Pprof: cfg.Admin.Pprof,
		Branding:             Branding{Name: cfg.Branding.Name, LogoURL: cfg.Branding.LogoURL, PrimaryColor: cfg.Branding.PrimaryColor},
		AllowedRedirectHosts: cfg.Gateway.AllowedRedirectHosts,
		BaseURL:              cfg.BaseURL,
	})
	if err != nil {
		app.Close()
		return nil, err
	}
	app.Server = srv
	return app, nil
}

// buildOIDC builds the single sign-on providers of cfg.OIDC; nil when none
// are configured. Flows and identity links live in the users store.
func buildOIDC(ctx context.Context, cfg *config.Config, stores *Stores, log *slog.Logger) (*OIDC, error) {
	if len(cfg.OIDC.Providers) == 0 {
		return nil, nil
	}
	flows, ok1 := stores.Users.(oidc.FlowStore)
	ids, ok2 := stores.Users.(oidc.IdentityStore)
	logouts, ok3 := stores.Users.(oidc.LogoutStore) // back-channel logout
	if !ok1 || !ok2 || !ok3 {
		return nil, errors.New("server: oidc.providers: the users store does not support single sign-on (use sqlite:, postgres: or memory:)")
	}
	var pcs []oidc.ProviderConfig
	for _, p := range cfg.OIDC.Providers {
		pcs = append(pcs, oidc.ProviderConfig{
			Name: p.Name, Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.ClientSecret.Reveal(),
			Scopes: p.Scopes, Claims: oidc.ClaimNames{Email: p.Claims.Email, Roles: p.Claims.Roles, OrgID: p.Claims.OrgID},
		})
	}
	base := strings.TrimSuffix(cfg.BaseURL, "/")
	set, err := oidc.NewSet(ctx, pcs, oidc.Options{Flows: flows, Logouts: logouts, Log: log,
		RedirectURL: func(name string) string { return base + "/v1/oidc/" + name + "/callback" }})
	if err != nil {
		return nil, fmt.Errorf("server: oidc.providers: %w", err)
	}
	return &OIDC{Providers: set, Identities: ids}, nil
}

// buildProvider makes sessiond an OpenID Provider when access tokens are on
// and the users store can keep codes, logins and consents (memory, SQLite,
// PostgreSQL); nil otherwise.
func buildProvider(stores *Stores, tokens *Tokens) *ProviderOptions {
	ps, ok := stores.Users.(provider.Store)
	if !ok || tokens == nil || stores.Clients == nil {
		return nil
	}
	return &ProviderOptions{Store: ps}
}

// Close releases every store and background worker.
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i].Close())
	}
	return errors.Join(errs...)
}

// HTTPServer returns the net/http server for the app's handler with the
// configured timeouts and header limit.
func (a *App) HTTPServer() *http.Server {
	h := a.Config.HTTP
	return &http.Server{
		Addr:              a.Config.Addr,
		Handler:           a.Server,
		ReadHeaderTimeout: h.ReadHeaderTimeout.Duration,
		ReadTimeout:       h.ReadTimeout.Duration,
		WriteTimeout:      h.WriteTimeout.Duration,
		IdleTimeout:       h.IdleTimeout.Duration,
		MaxHeaderBytes:    h.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12},
	}
}

// Serve listens on ln and serves until ctx ends, then shuts down gracefully
// within the configured shutdown timeout.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	hs := a.HTTPServer()
	errc := make(chan error, 1)
	go func() {
		var err error
		if a.Config.TLS.Enabled() {
			err = hs.ServeTLS(ln, a.Config.TLS.Cert, a.Config.TLS.Key)
		} else {
			err = hs.Serve(ln)
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("server: serve: %w", err)
	case <-ctx.Done():
	}
	a.Log.Info("shutting down", slog.Duration("timeout", a.Config.HTTP.ShutdownTimeout.Duration))
	sctx, cancel := context.WithTimeout(context.Background(), a.Config.HTTP.ShutdownTimeout.Duration)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("server: serve: %w", err)
	}
	return nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// JWKSMaxAge is how long clients may cache the published key set. A rotated
// key is published for PublishDelay before it signs, so every cache already
// holds it when the first token it signed arrives.
const JWKSMaxAge = 5 * time.Minute

// buildTokens wires access and refresh tokens. It returns nil when the
// session store cannot hold refresh families.
func buildTokens(ctx context.Context, cfg *config.Config, stores *Stores, log *slog.Logger) (*Tokens, error) {
	if stores.Refresh == nil {
		return nil, nil
	}
	kc := token.KeysConfig{
		Alg: token.Alg(cfg.Token.Alg), TokenTTL: cfg.Token.AccessTTL.Duration, Leeway: cfg.Token.Leeway.Duration,
		PublishDelay: JWKSMaxAge + time.Minute, Logger: log,
	}
	kek := cfg.Token.KeyEncryptionKeyBytes()
	if kek == nil && stores.SharedKeys {
		// SECURITY.md rule 11: private keys in a shared store are encrypted.
		return nil, errors.New("server: token.key_encryption_key is required when store.users is PostgreSQL: " +
			"private signing keys are sealed with it in the shared database (generate one with: openssl rand -base64 32)")
	}
	if kek != nil {
		sealer, err := token.NewSealer(kek)
		if err != nil {
			return nil, fmt.Errorf("server: token.key_encryption_key: %w", err)
		}
		kc.Sealer = sealer
	}
	keys, err := token.NewKeys(stores.Keys, kc)
	if err != nil {
		return nil, fmt.Errorf("server: keys: %w", err)
	}
	if kc.Alg == token.HS256 {
		k, err := token.NewHMACKey([]byte(cfg.Token.HS256Secret.Reveal()))
		if err != nil {
			return nil, fmt.Errorf("server: token.hs256_secret: %w", err)
		}
		if err := keys.Add(ctx, k); err != nil {
			return nil, fmt.Errorf("server: keys: %w", err)
		}
	}
	if err := keys.Ensure(ctx); err != nil {
		return nil, fmt.Errorf("server: keys: %w", err)
	}
	aud := cfg.Token.Audience
	issuer, err := token.NewIssuer(keys, token.IssuerConfig{Issuer: cfg.Token.Issuer, Audience: aud, TTL: cfg.Token.AccessTTL.Duration})
	if err != nil {
		return nil, fmt.Errorf("server: token issuer: %w", err)
	}
	verifier, err := token.NewVerifier(keys, token.VerifierConfig{Issuer: cfg.Token.Issuer, Audience: aud[0], Leeway: orNone(cfg.Token.Leeway.Duration)})
	if err != nil {
		return nil, fmt.Errorf("server: token verifier: %w", err)
	}
	rs, err := refresh.New(refresh.Config{Store: stores.Refresh, TTL: cfg.Token.RefreshTTL.Duration,
		IdleTTL: cfg.Token.RefreshIdleTTL.Duration, Grace: orNone(cfg.Token.RefreshGrace.Duration), AccessTTL: cfg.Token.AccessTTL.Duration})
	if err != nil {
		return nil, err
	}
	var clients ClientStore
	if stores.Clients != nil {
		clients = stores.Clients
	}
	return &Tokens{Keys: keys, Issuer: issuer, Verifier: verifier, Refresh: rs, Clients: clients, Users: stores.Users,
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
