package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/internal/app"
)

// jsonFlag is the --json flag of every listing and showing command.
type jsonFlag struct {
	JSON bool `name:"json" help:"Print JSON instead of a table."`
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// userJSON is a user as the CLI prints it: never a password hash.
type userJSON struct {
	ID            string   `json:"id"`
	Email         string   `json:"email"`
	Roles         []string `json:"roles"`
	OrgID         string   `json:"org_id"`
	Disabled      bool     `json:"disabled"`
	EmailVerified bool     `json:"email_verified"`
	Locked        bool     `json:"locked"`
	CreatedAt     string   `json:"created_at"`
	UpdatedAt     string   `json:"updated_at"`
}

func viewUser(u *account.User) userJSON {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	return userJSON{ID: u.ID, Email: u.Email, Roles: roles, OrgID: u.OrgID, Disabled: u.Disabled,
		EmailVerified: u.EmailVerified, Locked: u.LockedUntil.After(time.Now()),
		CreatedAt: stamp(u.CreatedAt), UpdatedAt: stamp(u.UpdatedAt)}
}

// userRef names one user by --email or --id.
type userRef struct {
	Email string `help:"The user's email." xor:"user" required:""`
	ID    string `name:"id" help:"The user's ID." xor:"user" required:""`
}

func (r userRef) find(rc *runCtx, a *app.App) (*account.User, error) {
	if r.Email != "" {
		return lookup(rc, a, r.Email)
	}
	u, err := a.Users.UserByID(rc, r.ID)
	if errors.Is(err, account.ErrNotFound) {
		return nil, fmt.Errorf("no user with id %s", r.ID)
	}
	return u, err
}

func directory(a *app.App, op string) (account.Directory, error) {
	d, ok := a.Users.(account.Directory)
	if !ok {
		return nil, fmt.Errorf("%s: the configured users store cannot list or erase users", op)
	}
	return d, nil
}

type userListCmd struct {
	jsonFlag
	EmailPrefix string `name:"email-prefix" help:"Only users whose email starts with this."`
	Role        string `help:"Only users with this role."`
	Org         string `help:"Only users of this organisation."`
	Disabled    *bool  `help:"Only disabled (true) or enabled (false) users." placeholder:"BOOL"`
	Limit       int    `help:"At most this many users (default: all)."`
}

func (c *userListCmd) Run(rc *runCtx) error {
	a, err := rc.app(nil)
	if err != nil {
		return err
	}
	defer a.Close()
	dir, err := directory(a, "user list")
	if err != nil {
		return err
	}
	q := account.UserQuery{EmailPrefix: account.FoldEmailPrefix(c.EmailPrefix), Role: c.Role, OrgID: c.Org,
		Disabled: c.Disabled, Limit: account.MaxListLimit}
	out := []userJSON{}
	for c.Limit <= 0 || len(out) < c.Limit {
		page, err := dir.ListUsers(rc, q)
		if err != nil {
			return fmt.Errorf("user list: %w", err)
		}
		for _, u := range page {
			if c.Limit > 0 && len(out) == c.Limit {
				break
			}
			out = append(out, viewUser(u))
		}
		if len(page) < q.PageLimit() {
			break
		}
		q.After = page[len(page)-1].ID
	}
	if c.JSON {
		return printJSON(rc.m.Stdout, map[string]any{"users": out})
	}
	tw := tabwriter.NewWriter(rc.m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tROLES\tORG\tDISABLED\tCREATED")
	for _, u := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\n", u.ID, u.Email, joinCell(u.Roles), cell(u.OrgID), u.Disabled, cell(u.CreatedAt))
	}
	return tw.Flush()
}

type userShowCmd struct {
	userRef
	jsonFlag
}

func (c *userShowCmd) Run(rc *runCtx) error {
	a, err := rc.app(nil)
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := c.find(rc, a)
	if err != nil {
		return fmt.Errorf("user show: %w", err)
	}
	return printUser(rc, viewUser(u), c.JSON)
}

func printUser(rc *runCtx, u userJSON, asJSON bool) error {
	if asJSON {
		return printJSON(rc.m.Stdout, map[string]any{"user": u})
	}
	tw := tabwriter.NewWriter(rc.m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "id\t%s\nemail\t%s\nroles\t%s\norg\t%s\ndisabled\t%t\nemail verified\t%t\nlocked\t%t\ncreated\t%s\nupdated\t%s\n",
		u.ID, u.Email, strings.Join(u.Roles, ","), u.OrgID, u.Disabled, u.EmailVerified, u.Locked, u.CreatedAt, u.UpdatedAt)
	return tw.Flush()
}

// endAll ends every session and refresh family of the user and refuses
// every access token issued so far, as the admin API does.
func endAll(rc *runCtx, a *app.App, userID, reason string) (int, error) {
	if _, err := a.Accounts.BumpTokenVersion(rc, userID); err != nil {
		return 0, err
	}
	n, err := a.Sessions.DestroyUser(rc, userID, "")
	if err != nil {
		return 0, err
	}
	if a.Tokens != nil {
		if err := a.Tokens.RevokeUser(rc, userID, ""); err != nil {
			return 0, err
		}
	}
	a.Log.Info("audit", slog.String("event", "sessions.revoked"), slog.String("user_id", userID),
		slog.String("reason", reason), slog.Int("sessions", n))
	return n, nil
}

// update applies disabled or roles and ends everything when they changed.
func update(rc *runCtx, ref userRef, op string, disabled *bool, roles []string, asJSON bool) error {
	a, err := rc.app(nil)
	if err != nil {
		return err
	}
	defer a.Close()
	before, err := ref.find(rc, a)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	u, err := a.Accounts.Update(rc, before.ID, disabled, roles)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if u.TokenVersion != before.TokenVersion && (u.Disabled || roles != nil) {
		if _, err := endAll(rc, a, u.ID, "cli_"+strings.ReplaceAll(op, " ", "_")); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	a.Log.Info("audit", slog.String("event", "admin.user_updated"), slog.String("user_id", u.ID),
		slog.Bool("disabled", u.Disabled), slog.String("reason", "cli"))
	return printUser(rc, viewUser(u), asJSON)
}

type userDisableCmd struct {
	userRef
	jsonFlag
}

func (c *userDisableCmd) Run(rc *runCtx) error {
	yes := true
	return update(rc, c.userRef, "user disable", &yes, nil, c.JSON)
}

type userEnableCmd struct {
	userRef
	jsonFlag
}

func (c *userEnableCmd) Run(rc *runCtx) error {
	no := false
	return update(rc, c.userRef, "user enable", &no, nil, c.JSON)
}

type userRolesCmd struct {
	userRef
	jsonFlag
	Role []string `help:"Role (repeatable); none removes every role."`
}

func (c *userRolesCmd) Run(rc *runCtx) error {
	roles := c.Role
	if roles == nil {
		roles = []string{}
	}
	return update(rc, c.userRef, "user roles", nil, roles, c.JSON)
}

type userDeleteCmd struct {
	userRef
	jsonFlag
	Yes bool `required:"" help:"Confirm the erasure; it cannot be undone."`
}

func (c *userDeleteCmd) Run(rc *runCtx) error {
	a, err := rc.app(nil)
	if err != nil {
		return err
	}
	defer a.Close()
	dir, err := directory(a, "user delete")
	if err != nil {
		return err
	}
	u, err := c.find(rc, a)
	if err != nil {
		return fmt.Errorf("user delete: %w", err)
	}
	if _, err := endAll(rc, a, u.ID, "user_erased"); err != nil {
		return fmt.Errorf("user delete: %w", err)
	}
	if err := dir.DeleteUser(rc, u.ID); err != nil {
		return fmt.Errorf("user delete: %w", err)
	}
	a.Log.Info("audit", slog.String("event", "admin.user_erased"), slog.String("user_id", u.ID), slog.String("reason", "cli"))
	if c.JSON {
		return printJSON(rc.m.Stdout, map[string]any{"erased": u.ID})
	}
	fmt.Fprintf(rc.m.Stdout, "erased user %s\n", u.ID)
	return nil
}

// userExportCmd always prints JSON; --json is accepted like everywhere.
type userExportCmd struct {
	userRef
	jsonFlag
}

// sessionJSON is one cookie session or refresh family as the CLI prints it.
type sessionJSON struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	CreatedAt  string `json:"created_at"`
	LastSeenAt string `json:"last_seen_at"`
	ExpiresAt  string `json:"expires_at"`
	IP         string `json:"ip"`
	UserAgent  string `json:"user_agent"`
}

// devices lists the user's cookie sessions and refresh families.
func devices(rc *runCtx, a *app.App, userID string) ([]sessionJSON, error) {
	list, err := a.Sessions.List(rc, userID)
	if err != nil {
		return nil, err
	}
	out := []sessionJSON{}
	for _, s := range list {
		out = append(out, sessionJSON{ID: s.ID, Kind: "cookie", CreatedAt: stamp(s.CreatedAt), LastSeenAt: stamp(s.LastSeenAt),
			ExpiresAt: stamp(s.Deadline()), IP: s.IP, UserAgent: s.UserAgent})
	}
	if a.Tokens == nil {
		return out, nil
	}
	fams, err := a.Tokens.Refresh.Store().Families(rc, userID)
	if err != nil {
		return nil, err
	}
	for _, f := range fams {
		out = append(out, sessionJSON{ID: f.ID, Kind: "token", CreatedAt: stamp(f.CreatedAt), LastSeenAt: stamp(f.LastUsedAt),
			ExpiresAt: stamp(f.ExpiresAt), IP: f.IP, UserAgent: f.UserAgent})
	}
	return out, nil
}

func (c *userExportCmd) Run(rc *runCtx) error {
	a, err := rc.app(nil)
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := c.find(rc, a)
	if err != nil {
		return fmt.Errorf("user export: %w", err)
	}
	sessions, err := devices(rc, a, u.ID)
	if err != nil {
		return fmt.Errorf("user export: %w", err)
	}
	a.Log.Info("audit", slog.String("event", "admin.user_exported"), slog.String("user_id", u.ID), slog.String("reason", "cli"))
	return printJSON(rc.m.Stdout, map[string]any{"user": viewUser(u), "sessions": sessions})
}
