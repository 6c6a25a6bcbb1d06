package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sessiond/sessiond/client"
)

type clientCmd struct {
	Add    clientAddCmd    `cmd:"" help:"Register an OAuth client."`
	List   clientListCmd   `cmd:"" help:"List the registered OAuth clients (never their secrets)."`
	Show   clientShowCmd   `cmd:"" help:"Show one OAuth client (never its secret)."`
	Remove clientRemoveCmd `cmd:"" help:"Remove an OAuth client."`
}

type clientAddCmd struct {
	ID                   string   `required:"" name:"id" help:"Client ID: 1–128 characters of A-Z a-z 0-9 . _ -." placeholder:"ID"`
	SecretStdin          bool     `name:"secret-stdin" required:"" xor:"secret" help:"Read the client secret from standard input (one line, at least 32 characters)."`
	GenerateSecret       bool     `name:"generate-secret" required:"" xor:"secret" help:"Generate a 256-bit secret and print it, once."`
	Public               bool     `required:"" xor:"secret" help:"A public client (browser or native app) that has no secret."`
	RedirectURI          []string `name:"redirect-uri" sep:"none" help:"Redirect URI, matched exactly: https, or http on 127.0.0.1, [::1] or localhost (repeatable)." placeholder:"URI"`
	BackchannelLogoutURI string   `name:"backchannel-logout-uri" help:"Where OIDC back-channel logout tokens are sent." placeholder:"URI"`
	Grant                []string `sep:"none" help:"Allowed grant type (repeatable; default authorization_code and refresh_token with a redirect URI, else client_credentials)." placeholder:"G"`
	Audience             []string `sep:"none" help:"Audience that client_credentials and token exchange may target (repeatable)." placeholder:"A"`
	Scope                []string `sep:"none" help:"Scope the client may request (repeatable)." placeholder:"S"`
	Name                 string   `help:"Name shown to people." placeholder:"N"`
	FirstParty           bool     `name:"first-party" help:"A first-party app: no consent screen; may use the password grant."`
}

func (c *clientAddCmd) Run(rc *runCtx) error {
	cl, secret, err := c.build(rc.m.Stdin, time.Now())
	if err != nil {
		return err
	}
	app, err := rc.app(nil)
	if err != nil {
		return err
	}
	defer app.Close()
	if app.Clients == nil {
		return errors.New("client add: the configured users store cannot hold OAuth clients")
	}
	if app.Tokens != nil {
		// Tokens carrying a removed client's ID stay refused until they
		// would have expired; a new client under that ID would get them too.
		revoked, err := app.Tokens.Refresh.ClientRevoked(rc, cl.ID)
		if err != nil {
			return fmt.Errorf("client add: %w", err)
		}
		if revoked {
			return fmt.Errorf("client add: a client with id %s was removed less than token.access_ttl + 1m ago; "+
				"its ID can be used again after that, or choose another", cl.ID)
		}
	}
	if err := app.Clients.CreateClient(rc, cl); err != nil {
		if errors.Is(err, client.ErrConflict) {
			return fmt.Errorf("client add: a client with id %s exists already", cl.ID)
		}
		return fmt.Errorf("client add: %w", err)
	}
	app.Log.Info("audit", slog.String("event", "client.created"), slog.String("client_id", cl.ID),
		slog.Any("grants", cl.Grants), slog.String("reason", "cli"))
	kind := "confidential"
	if cl.Public {
		kind = "public"
	}
	fmt.Fprintf(rc.m.Stdout, "created %s client %s (grants: %s)\n", kind, cl.ID, strings.Join(cl.Grants, ", "))
	if secret != "" {
		fmt.Fprintf(rc.m.Stdout, "client secret (shown only now; sessiond keeps only its hash): %s\n", secret)
	}
	return nil
}

// build turns the flags (and, with --secret-stdin, one line of stdin) into a
// validated client. It returns the secret only when it generated one, for
// printing once.
func (c *clientAddCmd) build(stdin io.Reader, now time.Time) (*client.Client, string, error) {
	cl := &client.Client{
		ID: c.ID, Name: c.Name, Public: c.Public, FirstParty: c.FirstParty,
		Grants: c.Grant, Audiences: c.Audience, Scopes: c.Scope,
		RedirectURIs: c.RedirectURI, BackchannelLogoutURI: c.BackchannelLogoutURI,
		CreatedAt: now.UTC().Truncate(time.Millisecond),
	}
	if len(cl.Grants) == 0 {
		cl.Grants = defaultGrants(cl)
	}
	var generated string
	switch {
	case c.Public && (c.SecretStdin || c.GenerateSecret):
		return nil, "", errors.New("client add: a public client has no secret; drop --secret-stdin and --generate-secret")
	case c.Public:
	case c.SecretStdin:
		secret, err := readLine(stdin, "secret")
		if err != nil {
			return nil, "", fmt.Errorf("client add: read secret: %w", err)
		}
		if err := client.ValidateSecret(secret); err != nil {
			return nil, "", fmt.Errorf("client add: %w", err)
		}
		cl.SecretHash = client.HashSecret(secret)
	case c.GenerateSecret:
		secret, err := client.NewSecret()
		if err != nil {
			return nil, "", fmt.Errorf("client add: %w", err)
		}
		cl.SecretHash, generated = client.HashSecret(secret), secret
	default:
		return nil, "", errors.New("client add: give --secret-stdin, --generate-secret or --public")
	}
	if err := client.Validate(cl); err != nil {
		return nil, "", fmt.Errorf("client add: %w", err)
	}
	return cl, generated, nil
}

// defaultGrants are the grants of a client registered without --grant: an
// app with a redirect URI signs users in with the authorization code flow,
// a client without one is a service using client_credentials.
func defaultGrants(c *client.Client) []string {
	if len(c.RedirectURIs) > 0 {
		return []string{client.GrantAuthorizationCode, client.GrantRefreshToken}
	}
	return []string{client.GrantClientCredentials}
}

type clientListCmd struct{ jsonFlag }

func (c *clientListCmd) Run(rc *runCtx) error {
	app, err := rc.app(nil)
	if err != nil {
		return err
	}
	defer app.Close()
	if app.Clients == nil {
		return errors.New("client list: the configured users store cannot hold OAuth clients")
	}
	list, err := app.Clients.ListClients(rc)
	if err != nil {
		return fmt.Errorf("client list: %w", err)
	}
	if c.JSON {
		out := make([]clientJSON, len(list))
		for i, cl := range list {
			out[i] = viewClient(cl)
		}
		return printJSON(rc.m.Stdout, map[string]any{"clients": out})
	}
	return writeClients(rc.m.Stdout, list)
}

// clientJSON is a client as the CLI prints it: never a secret or its hash.
type clientJSON struct {
	ID                   string   `json:"id"`
	Name                 string   `json:"name"`
	Public               bool     `json:"public"`
	FirstParty           bool     `json:"first_party"`
	Grants               []string `json:"grants"`
	Audiences            []string `json:"audiences"`
	Scopes               []string `json:"scopes"`
	RedirectURIs         []string `json:"redirect_uris"`
	BackchannelLogoutURI string   `json:"backchannel_logout_uri,omitempty"`
	CreatedAt            string   `json:"created_at"`
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func viewClient(c *client.Client) clientJSON {
	return clientJSON{ID: c.ID, Name: c.Name, Public: c.Public, FirstParty: c.FirstParty, Grants: nonNil(c.Grants),
		Audiences: nonNil(c.Audiences), Scopes: nonNil(c.Scopes), RedirectURIs: nonNil(c.RedirectURIs),
		BackchannelLogoutURI: c.BackchannelLogoutURI, CreatedAt: stamp(c.CreatedAt)}
}

type clientShowCmd struct {
	jsonFlag
	ID string `required:"" name:"id" help:"The client's ID." placeholder:"ID"`
}

func (c *clientShowCmd) Run(rc *runCtx) error {
	app, err := rc.app(nil)
	if err != nil {
		return err
	}
	defer app.Close()
	if app.Clients == nil {
		return errors.New("client show: the configured users store cannot hold OAuth clients")
	}
	cl, err := app.Clients.GetClient(rc, c.ID)
	if errors.Is(err, client.ErrNotFound) {
		return fmt.Errorf("client show: no client with id %s", c.ID)
	}
	if err != nil {
		return fmt.Errorf("client show: %w", err)
	}
	if c.JSON {
		return printJSON(rc.m.Stdout, map[string]any{"client": viewClient(cl)})
	}
	return writeClients(rc.m.Stdout, []*client.Client{cl})
}

// writeClients prints the table of client list: never a secret or its hash.
func writeClients(w io.Writer, list []*client.Client) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tGRANTS\tAUDIENCES\tREDIRECT URIS")
	for _, c := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cell(c.ID), cell(c.Name), joinCell(c.Grants), joinCell(c.Audiences),
			joinCell(c.RedirectURIs))
	}
	return tw.Flush()
}

// joinCell separates list items with spaces, which none of them may contain
// (a comma may appear in a redirect URI's query).
func joinCell(l []string) string { return cell(strings.Join(l, " ")) }

// cell keeps one value in its column: "-" when empty, control characters
// (which Validate refuses anyway) replaced.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

type clientRemoveCmd struct {
	ID string `required:"" name:"id" help:"The client's ID." placeholder:"ID"`
}

func (c *clientRemoveCmd) Run(rc *runCtx) error {
	if c.ID == client.FirstPartyID {
		return fmt.Errorf("client remove: %s is the built-in first-party client and cannot be removed", c.ID)
	}
	app, err := rc.app(nil)
	if err != nil {
		return err
	}
	defer app.Close()
	if app.Clients == nil {
		return errors.New("client remove: the configured users store cannot hold OAuth clients")
	}
	notFound := func(err error) error {
		if errors.Is(err, client.ErrNotFound) {
			return fmt.Errorf("client remove: no client with id %s", c.ID)
		}
		return fmt.Errorf("client remove: %w", err)
	}
	if _, err := app.Clients.GetClient(rc, c.ID); err != nil {
		return notFound(err)
	}
	// Its tokens end first: should that fail, the client is still there and
	// the command can be run again.
	ended := 0
	if app.Tokens != nil {
		if ended, err = app.Tokens.Refresh.RevokeClient(rc, c.ID); err != nil {
			return fmt.Errorf("client remove: end its tokens: %w", err)
		}
	}
	if err := app.Clients.DeleteClient(rc, c.ID); err != nil {
		return notFound(err)
	}
	app.Log.Info("audit", slog.String("event", "client.removed"), slog.String("client_id", c.ID),
		slog.Int("families_ended", ended), slog.String("reason", "cli"))
	fmt.Fprintf(rc.m.Stdout, "removed client %s; ended %d refresh token families and every access token issued to it\n", c.ID, ended)
	return nil
}
