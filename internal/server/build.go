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

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/internal/config"
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
	app := &App{Config: cfg, Log: log, Users: stores.Users, closers: []io.Closer{stores}}
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
	srv, err = New(Options{
		Sessions: app.Sessions, Accounts: app.Accounts, Users: stores.Users, Ready: stores.Ready,
		TrustedProxies: cfg.TrustedProxies, Log: log, Audit: audit, AccessLog: cfg.Log.Level == "debug",
	})
	if err != nil {
		app.Close()
		return nil, err
	}
	app.Server = srv
	return app, nil
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
