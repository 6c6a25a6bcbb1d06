package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/client"
	"github.com/sessiond/sessiond/internal/config"
	"github.com/sessiond/sessiond/internal/redact"
	"github.com/sessiond/sessiond/internal/server"
	"github.com/sessiond/sessiond/ratelimit"
	"github.com/sessiond/sessiond/refresh"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memstore"
	"github.com/sessiond/sessiond/store/pgstore"
	"github.com/sessiond/sessiond/store/redisstore"
	"github.com/sessiond/sessiond/store/sqlitestore"
	"github.com/sessiond/sessiond/token"
)

// Stores are the backends a configuration names.
type Stores struct {
	Users    account.Store
	Sessions session.Backend
	// Keys holds signing keys (in the durable users store); Refresh the
	// refresh families and denylist (beside the sessions); Clients the OAuth
	// client registry (durable).
	Keys    token.KeyStore
	Refresh refresh.Backend
	Clients client.Store
	Ready   map[string]server.Pinger
	Closers []io.Closer
	// LoginPerIP and LoginPerAccount count failed logins across every node
	// sharing the sessions store (Redis, PostgreSQL); nil means in-process.
	LoginPerIP, LoginPerAccount account.Limiter
	// NewLimiter makes a further limiter (sign-up, recovery mails) shared
	// like those; nil means in-process.
	NewLimiter func(r ratelimit.Rate, scope string) account.Limiter

	// SharedKeys is true when Keys is a database shared with other systems
	// (PostgreSQL): private signing keys are sealed before they reach it
	// (token.key_encryption_key).
	SharedKeys bool
}

// OpenStores opens the backends cfg names. The embedded SQLite store is the
// default; "memory:" is an in-process store for tests.
func OpenStores(ctx context.Context, cfg *config.Config) (*Stores, error) {
	st := &Stores{Ready: map[string]server.Pinger{}}
	opened := map[string]any{}
	open := func(url string) (any, error) {
		if b, ok := opened[url]; ok {
			return b, nil
		}
		var b any
		scheme, rest, _ := strings.Cut(url, ":")
		switch scheme {
		case "sqlite", "bolt": // bolt: is an older name for the same SQLite file
			path := strings.TrimPrefix(rest, "//")
			if path == "" {
				path = filepath.Join(cfg.Data, "sessiond.db")
			}
			s, err := sqlitestore.Open(ctx, path, sqlitestore.Options{NoMigrate: cfg.Store.Migrate == "off"})
			if err != nil {
				return nil, err
			}
			st.Closers = append(st.Closers, s)
			b = s
		case "postgres", "postgresql":
			s, err := pgstore.Open(ctx, url, pgstore.Options{Migrate: cfg.Store.Migrate != "off"})
			if err != nil {
				return nil, fmt.Errorf("app: open store %q: %w", redact.URL(url), err)
			}
			st.Closers = append(st.Closers, s)
			if url == cfg.Store.Sessions {
				// Failed logins count across every node sharing this database.
				st.LoginPerIP = s.Limiter(cfg.RateLimit.LoginPerIP, "login-ip")
				st.LoginPerAccount = s.Limiter(cfg.RateLimit.LoginPerAccount, "login-account")
				st.NewLimiter = func(r ratelimit.Rate, scope string) account.Limiter { return s.Limiter(r, scope) }
			}
			b = s
		case "redis", "rediss", "redis+cluster", "rediss+cluster", "redis+sentinel", "rediss+sentinel":
			s, err := redisstore.Open(ctx, url, redisstore.Options{
				Prefix:             cfg.Store.Redis.Prefix,
				RevocationReplicas: cfg.Store.Redis.RevocationWait(),
				RevocationTimeout:  cfg.Store.Redis.RevocationTimeout.Duration,
			})
			if err != nil {
				return nil, err // names the URL, password redacted
			}
			st.Closers = append(st.Closers, s)
			if url == cfg.Store.Sessions {
				// Failed logins count across every node sharing this Redis.
				st.LoginPerIP = s.Limiter(cfg.RateLimit.LoginPerIP, "login-ip")
				st.LoginPerAccount = s.Limiter(cfg.RateLimit.LoginPerAccount, "login-account")
				st.NewLimiter = func(r ratelimit.Rate, scope string) account.Limiter { return s.Limiter(r, scope) }
			}
			b = s
		case "memory":
			b = memstore.New(nil)
		default:
			return nil, fmt.Errorf("app: open store %q: unsupported scheme %q", redact.URL(url), scheme)
		}
		opened[url] = b
		return b, nil
	}
	ub, err := open(cfg.Store.Users)
	if err != nil {
		st.Close()
		return nil, err
	}
	users, ok := ub.(account.Store)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("app: store.users %q cannot hold users", redact.URL(cfg.Store.Users))
	}
	sb, err := open(cfg.Store.Sessions)
	if err != nil {
		st.Close()
		return nil, err
	}
	sessions, ok := sb.(session.Backend)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("app: store.sessions %q cannot hold sessions", redact.URL(cfg.Store.Sessions))
	}
	st.Users, st.Sessions = users, sessions
	if k, ok := ub.(token.KeyStore); ok {
		st.Keys = k
		_, st.SharedKeys = ub.(*pgstore.Store)
	} else {
		st.Keys = token.NewMemKeyStore()
	}
	if r, ok := sb.(refresh.Backend); ok {
		st.Refresh = r
	}
	if c, ok := ub.(client.Store); ok {
		st.Clients = c
	}
	if p, ok := ub.(server.Pinger); ok {
		st.Ready["users"] = p
	}
	if p, ok := sb.(server.Pinger); ok {
		st.Ready["sessions"] = p
	}
	return st, nil
}

// Close closes every store.
func (s *Stores) Close() error {
	var errs []error
	for i := len(s.Closers) - 1; i >= 0; i-- {
		errs = append(errs, s.Closers[i].Close())
	}
	return errors.Join(errs...)
}
