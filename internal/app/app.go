package app

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

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/client"
	"github.com/sessiond/sessiond/internal/config"
	"github.com/sessiond/sessiond/internal/server"
	"github.com/sessiond/sessiond/oidc"
	"github.com/sessiond/sessiond/oidc/op"
	"github.com/sessiond/sessiond/ratelimit"
	"github.com/sessiond/sessiond/session"
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
	Tokens   *server.Tokens
	Clients  client.Store
	Server   *server.Server
	// Mailer is the outgoing mail; nil when no mail is sent (no
	// mail.smtp.host, not dev).
	Mailer *Mailer

	closers []io.Closer
}

// Build opens the stores and wires every service for cfg.
func Build(ctx context.Context, cfg *config.Config, log *slog.Logger) (*App, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
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
		return nil, fmt.Errorf("app: password hasher: %w", err)
	}
	audit := log.With(slog.Bool("audit", true))
	perIP, perAcct := stores.LoginPerIP, stores.LoginPerAccount
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
		Audit: audit, RequireVerifiedEmail: cfg.Signup.RequireVerifiedEmail,
	}
	if ts, ok := stores.Users.(account.TokenStore); ok {
		app.Accounts.Tokens = ts
	}
	newLimiter := stores.NewLimiter
	if newLimiter == nil {
		newLimiter = func(r ratelimit.Rate, _ string) account.Limiter {
			m := ratelimit.NewMemory(r, nil)
			app.closers = append(app.closers, m)
			return m
		}
	}
	mailer, err := app.buildMailer(cfg, stores.Users, log)
	if err != nil {
		app.Close()
		return nil, err
	}
	app.Mailer = mailer
	var srv *server.Server
	cookie := session.CookieConfig{Domain: cfg.Cookie.Domain, IsTLS: func(r *http.Request) bool { return srv.IsTLS(r) }}
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
	gw, err := server.NewGateway(cfg.Gateway, server.GatewayOptions{})
	if err == nil && gw.NeedsTokens() && tokens == nil {
		err = errors.New("app: gateway.routes: internal_jwt needs access tokens, which this session store cannot back")
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
	mfaOpt, err := buildMFA(cfg, stores)
	if err != nil {
		app.Close()
		return nil, err
	}
	collectors := []prometheus.Collector{newCacheCollector(stores.Users, app.Sessions.Store())}
	if mailer != nil {
		collectors = append(collectors, newMailCollector(mailer.Dispatcher))
	}
	srv, err = server.New(server.Options{
		MFA:      mfaOpt,
		OIDC:     sso,
		Provider: buildProvider(stores, tokens),
		Gateway:  gw,
		Sessions: app.Sessions, Accounts: app.Accounts, Users: stores.Users, Ready: stores.Ready, Tokens: tokens,
		HSTS:           cfg.TLS.HSTS(),
		TrustedProxies: cfg.TrustedProxies, Log: log, Audit: audit, AccessLog: cfg.Log.Level == "debug", Pprof: cfg.Admin.Pprof,
		Branding:             server.Branding{Name: cfg.Branding.Name, LogoURL: cfg.Branding.LogoURL, PrimaryColor: cfg.Branding.PrimaryColor},
		AllowedRedirectHosts: cfg.Gateway.AllowedRedirectHosts,
		BaseURL:              cfg.BaseURL,
		Collectors:           collectors,
		Lifecycle:            app.lifecycle(cfg, mailer, newLimiter),
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
func buildOIDC(ctx context.Context, cfg *config.Config, stores *Stores, log *slog.Logger) (*server.OIDC, error) {
	if len(cfg.OIDC.Providers) == 0 {
		return nil, nil
	}
	flows, ok1 := stores.Users.(oidc.FlowStore)
	ids, ok2 := stores.Users.(oidc.IdentityStore)
	logouts, ok3 := stores.Users.(oidc.LogoutStore) // back-channel logout
	if !ok1 || !ok2 || !ok3 {
		return nil, errors.New("app: oidc.providers: the users store does not support single sign-on (use sqlite:, postgres: or memory:)")
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
		return nil, fmt.Errorf("app: oidc.providers: %w", err)
	}
	return &server.OIDC{Providers: set, Identities: ids}, nil
}

// buildProvider makes sessiond an OpenID Provider when access tokens are on
// and the users store can keep codes, logins and consents (memory, SQLite,
// PostgreSQL); nil otherwise.
func buildProvider(stores *Stores, tokens *server.Tokens) *server.ProviderOptions {
	ps, ok := stores.Users.(op.Store)
	if !ok || tokens == nil || stores.Clients == nil {
		return nil
	}
	return &server.ProviderOptions{Store: ps}
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
		return fmt.Errorf("app: serve: %w", err)
	case <-ctx.Done():
	}
	a.Log.Info("shutting down", slog.Duration("timeout", a.Config.HTTP.ShutdownTimeout.Duration))
	sctx, cancel := context.WithTimeout(context.Background(), a.Config.HTTP.ShutdownTimeout.Duration)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("app: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("app: serve: %w", err)
	}
	return nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }
