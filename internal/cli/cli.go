package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"text/tabwriter"

	"github.com/alecthomas/kong"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/internal/app"
	"github.com/sessiond/sessiond/internal/config"
)

// Version is set at build time with -ldflags "-X .../internal/cli.Version=v1.2.3".
var Version = "dev"

// Main is one run of the sessiond command.
type Main struct {
	Args   []string
	Env    []string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Ready, if set, receives the serving address once serve listens.
	Ready func(addr string)
}

// Globals are flags every command takes.
type Globals struct {
	Config string `help:"Configuration file (YAML)." type:"path" env:"SESSIOND_CONFIG" placeholder:"FILE"`
	Data   string `help:"Data directory for the embedded store (default ./sessiond-data)." placeholder:"DIR"`
}

type cliArgs struct {
	Globals
	Serve   serveCmd   `cmd:"" help:"Run the sessiond server."`
	User    userCmd    `cmd:"" help:"Manage users."`
	Session sessionCmd `cmd:"" help:"List and revoke sessions."`
	Keys    keysCmd    `cmd:"" help:"List and rotate token signing keys."`
	Client  clientCmd  `cmd:"" help:"Register, list and remove OAuth clients."`
	Migrate migrateCmd `cmd:"" help:"Apply pending store migrations."`
	Version versionCmd `cmd:"" help:"Print the version."`
}

type runCtx struct {
	context.Context
	m *Main
	g *Globals
}

// Run parses m.Args and runs the command until it finishes or ctx ends.
func (m *Main) Run(ctx context.Context) error {
	var args cliArgs
	exit := -1
	parser, err := kong.New(&args,
		kong.Name("sessiond"),
		kong.Description("sessiond: sessions and tokens for web applications and services."),
		kong.Writers(m.Stdout, m.Stderr),
		kong.Exit(func(code int) { exit = code }),
		kong.UsageOnError(),
	)
	if err != nil {
		return err
	}
	kctx, err := parser.Parse(m.Args)
	if exit >= 0 {
		return nil // --help
	}
	if err != nil {
		return err
	}
	return kctx.Run(&runCtx{Context: ctx, m: m, g: &args.Globals})
}

// load reads the configuration with the global flags plus overrides.
func (rc *runCtx) load(flags map[string]string) (*config.Config, error) {
	if flags == nil {
		flags = map[string]string{}
	}
	if rc.g.Data != "" {
		flags["data"] = rc.g.Data
	}
	env := rc.m.Env
	return config.Load(rc.g.Config, env, flags)
}

func (rc *runCtx) logger(cfg *config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(rc.m.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(rc.m.Stderr, opts))
}

// app builds the wired application for a one-shot command.
func (rc *runCtx) app(flags map[string]string) (*app.App, error) {
	cfg, err := rc.load(flags)
	if err != nil {
		return nil, err
	}
	return app.Build(rc, cfg, rc.logger(cfg))
}

type serveCmd struct {
	Addr        string `help:"Listen address (default 127.0.0.1:8080)." placeholder:"HOST:PORT"`
	Dev         bool   `help:"Development mode: create a demo admin account and print its one-time password."`
	PrintConfig bool   `help:"Print the effective configuration (secrets redacted) and exit."`
}

func (c *serveCmd) Run(rc *runCtx) error {
	flags := map[string]string{}
	if c.Addr != "" {
		flags["addr"] = c.Addr
	}
	if c.Dev {
		flags["dev"] = "true"
	}
	cfg, err := rc.load(flags)
	if err != nil {
		return err
	}
	if c.PrintConfig {
		_, err := fmt.Fprint(rc.m.Stdout, cfg.String())
		return err
	}
	log := rc.logger(cfg)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("serve: listen on %s: %w (set addr or --addr)", cfg.Addr, err)
	}
	scheme := "http"
	if cfg.TLS.Enabled() {
		scheme = "https"
	}
	url := scheme + "://" + ln.Addr().String()
	// With port 0 the derived base URL (and the issuer derived from it) only
	// becomes known now.
	if derived := scheme + "://" + cfg.Addr; strings.HasSuffix(cfg.Addr, ":0") && cfg.BaseURL == derived {
		if cfg.Token.Issuer == cfg.BaseURL {
			cfg.Token.Issuer = url
		}
		for i, a := range cfg.Token.Audience {
			if a == cfg.BaseURL {
				cfg.Token.Audience[i] = url
			}
		}
		cfg.BaseURL = url
	}
	app, err := app.Build(rc, cfg, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer app.Close()
	if cfg.Dev {
		email, pw, err := demoAccount(rc, app)
		if err != nil {
			ln.Close()
			return err
		}
		fmt.Fprintf(rc.m.Stdout, "dev mode: demo admin %s, one-time password: %s\n", email, pw)
		fmt.Fprintf(rc.m.Stdout, "try: curl -c jar -H 'Content-Type: application/json' -d '{\"email\":\"%s\",\"password\":\"%s\"}' %s/v1/login\n", email, pw, url)
	}
	fmt.Fprintf(rc.m.Stdout, "sessiond %s listening on %s (data in %s)\n", Version, url, cfg.Data)
	log.Info("listening", slog.String("addr", ln.Addr().String()), slog.String("version", Version))
	if rc.m.Ready != nil {
		rc.m.Ready(ln.Addr().String())
	}
	return app.Serve(rc, ln)
}

// demoAccount creates demo@example.com (role admin) or gives it a fresh
// password, and returns the password.
func demoAccount(ctx context.Context, app *app.App) (string, string, error) {
	const email = "demo@example.com"
	pw, err := randomPassword()
	if err != nil {
		return "", "", err
	}
	u, err := app.Users.UserByEmail(ctx, email)
	switch {
	case errors.Is(err, account.ErrNotFound):
		_, err = app.Accounts.Register(ctx, email, pw, []string{"admin"}, "demo")
	case err == nil:
		_, err = app.Accounts.SetPassword(ctx, u.ID, pw)
	}
	if err != nil {
		return "", "", fmt.Errorf("serve: demo account: %w", err)
	}
	return email, pw, nil
}

func randomPassword() (string, error) {
	var b [15]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

type userCmd struct {
	Add     userAddCmd     `cmd:"" help:"Create a user; the password is read from standard input."`
	List    userListCmd    `cmd:"" help:"List users, filtered and paged."`
	Show    userShowCmd    `cmd:"" help:"Show one user."`
	Disable userDisableCmd `cmd:"" help:"Disable a user: every session, refresh family and access token ends."`
	Enable  userEnableCmd  `cmd:"" help:"Enable a disabled user."`
	Roles   userRolesCmd   `cmd:"" help:"Replace a user's roles: every session, refresh family and access token ends."`
	Delete  userDeleteCmd  `cmd:"" help:"Erase a user and everything stored about them."`
	Export  userExportCmd  `cmd:"" help:"Print everything stored about a user as JSON (no secrets)."`
}

type userAddCmd struct {
	Email         string   `required:"" help:"Email address."`
	Role          []string `help:"Role (repeatable)."`
	Org           string   `help:"Organisation ID."`
	PasswordStdin bool     `required:"" help:"Read the password from standard input (one line)."`
}

func (c *userAddCmd) Run(rc *runCtx) error {
	pw, err := readLine(rc.m.Stdin, "password")
	if err != nil {
		return fmt.Errorf("user add: read password: %w", err)
	}
	app, err := rc.app(nil)
	if err != nil {
		return err
	}
	defer app.Close()
	u, err := app.Accounts.Register(rc, c.Email, pw, c.Role, c.Org)
	if err != nil {
		if errors.Is(err, account.ErrConflict) {
			return fmt.Errorf("user add: a user with email %s exists already", c.Email)
		}
		return fmt.Errorf("user add: %w", err)
	}
	fmt.Fprintf(rc.m.Stdout, "created user %s (%s)\n", u.ID, u.Email)
	return nil
}

// readLine reads the first line of r, without its line ending; what names
// the value in errors ("password", "secret").
func readLine(r io.Reader, what string) (string, error) {
	if r == nil {
		return "", errors.New("no standard input")
	}
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", fmt.Errorf("empty %s on standard input", what)
	}
	return line, nil
}

type sessionCmd struct {
	List   sessionListCmd   `cmd:"" help:"List a user's sessions."`
	Revoke sessionRevokeCmd `cmd:"" help:"End a user's sessions."`
}

type sessionListCmd struct {
	jsonFlag
	Email string `required:"" help:"The user's email."`
}

func (c *sessionListCmd) Run(rc *runCtx) error {
	app, err := rc.app(nil)
	if err != nil {
		return err
	}
	defer app.Close()
	u, err := lookup(rc, app, c.Email)
	if err != nil {
		return err
	}
	list, err := devices(rc, app, u.ID)
	if err != nil {
		return fmt.Errorf("session list: %w", err)
	}
	if c.JSON {
		return printJSON(rc.m.Stdout, map[string]any{"sessions": list})
	}
	tw := tabwriter.NewWriter(rc.m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tCREATED\tLAST SEEN\tEXPIRES\tIP\tUSER AGENT")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Kind, cell(s.CreatedAt), cell(s.LastSeenAt), cell(s.ExpiresAt), cell(s.IP), cell(s.UserAgent))
	}
	return tw.Flush()
}

type sessionRevokeCmd struct {
	jsonFlag
	Email string `required:"" help:"The user's email."`
	ID    string `help:"End only the session with this ID." xor:"which"`
	All   bool   `help:"End every session and refresh family, and refuse every access token issued so far." xor:"which"`
}

func (c *sessionRevokeCmd) Run(rc *runCtx) error {
	if c.ID == "" && !c.All {
		return errors.New("session revoke: give --id ID or --all")
	}
	app, err := rc.app(nil)
	if err != nil {
		return err
	}
	defer app.Close()
	u, err := lookup(rc, app, c.Email)
	if err != nil {
		return err
	}
	if c.ID != "" {
		s, err := app.Sessions.Get(rc, c.ID)
		if err != nil || s.UserID != u.ID {
			return fmt.Errorf("session revoke: %s has no session %s", u.Email, c.ID)
		}
		if err := app.Sessions.Destroy(rc, c.ID); err != nil {
			return fmt.Errorf("session revoke: %w", err)
		}
		if c.JSON {
			return printJSON(rc.m.Stdout, map[string]any{"ended": []string{c.ID}})
		}
		fmt.Fprintf(rc.m.Stdout, "ended session %s\n", c.ID)
		return nil
	}
	n, err := endAll(rc, app, u.ID, "cli")
	if err != nil {
		return fmt.Errorf("session revoke: %w", err)
	}
	if c.JSON {
		return printJSON(rc.m.Stdout, map[string]any{"user_id": u.ID, "sessions_ended": n, "tokens_refused": true})
	}
	fmt.Fprintf(rc.m.Stdout, "ended %d sessions of %s; refresh tokens and access tokens issued before now are refused\n", n, u.Email)
	return nil
}

func lookup(ctx context.Context, app *app.App, email string) (*account.User, error) {
	norm, err := account.NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	u, err := app.Users.UserByEmail(ctx, norm)
	if errors.Is(err, account.ErrNotFound) {
		return nil, fmt.Errorf("no user with email %s", email)
	}
	return u, err
}

type migrateCmd struct{}

func (c *migrateCmd) Run(rc *runCtx) error {
	app, err := rc.app(map[string]string{"store.migrate": "auto"})
	if err != nil {
		return err
	}
	defer app.Close()
	fmt.Fprintln(rc.m.Stdout, "stores are at the current schema")
	return nil
}

type versionCmd struct{}

func (c *versionCmd) Run(rc *runCtx) error {
	v := Version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" {
		v = "dev (" + bi.GoVersion + ")"
	}
	fmt.Fprintf(rc.m.Stdout, "sessiond %s\n", v)
	return nil
}

// Exit code for a failed command.
const exitFailure = 1

// Exit runs m with os-level inputs and returns the process exit code.
func Exit(ctx context.Context) int {
	m := &Main{Args: os.Args[1:], Env: os.Environ(), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	if err := m.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "sessiond: %v\n", err)
		return exitFailure
	}
	return 0
}
