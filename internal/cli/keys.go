package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"text/tabwriter"
	"time"

	sessiondapp "github.com/sessiond/sessiond/internal/app"
)

type keysCmd struct {
	List   keysListCmd   `cmd:"" help:"List signing keys."`
	Rotate keysRotateCmd `cmd:"" help:"Create a new signing key; the current one keeps verifying until its tokens expire."`
	Retire keysRetireCmd `cmd:"" help:"Remove a leaked signing key at once: it leaves the JWKS, its tokens stop verifying, another key signs."`
}

type keysListCmd struct{ jsonFlag }

// keyJSON is a signing key as the CLI prints it: public facts only.
type keyJSON struct {
	KID            string `json:"kid"`
	Alg            string `json:"alg"`
	CreatedAt      string `json:"created_at"`
	SignsFrom      string `json:"signs_from"`
	RetiredAt      string `json:"retired_at,omitempty"`
	PublishedUntil string `json:"published_until,omitempty"`
	State          string `json:"state"`
}

func (c *keysListCmd) Run(rc *runCtx) error {
	app, err := rc.app(nil)
	if err != nil {
		return err
	}
	defer app.Close()
	if app.Tokens == nil {
		return errors.New("keys list: the configured stores hold no tokens")
	}
	signer, _ := app.Tokens.Keys.Signer()
	keys := []keyJSON{}
	for _, k := range app.Tokens.Keys.List() {
		state := "verifying"
		switch {
		case signer != nil && k.ID == signer.ID:
			state = "signing"
		case time.Now().Before(k.NotBefore):
			state = "next"
		}
		keys = append(keys, keyJSON{KID: k.ID, Alg: string(k.Alg), CreatedAt: stamp(k.CreatedAt), SignsFrom: stamp(k.NotBefore),
			RetiredAt: stamp(k.RetiredAt), PublishedUntil: stamp(k.ExpiresAt), State: state})
	}
	if c.JSON {
		return printJSON(rc.m.Stdout, map[string]any{"keys": keys})
	}
	tw := tabwriter.NewWriter(rc.m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tCREATED\tSIGNS FROM\tRETIRED\tPUBLISHED UNTIL\tSTATE")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.KID, k.Alg, cell(k.CreatedAt), cell(k.SignsFrom), cell(k.RetiredAt), cell(k.PublishedUntil), k.State)
	}
	return tw.Flush()
}

// stamp formats t as RFC 3339 UTC; empty for the zero time.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

type keysRotateCmd struct{}

func (c *keysRotateCmd) Run(rc *runCtx) error {
	app, err := rc.app(nil)
	if err != nil {
		return err
	}
	defer app.Close()
	if app.Tokens == nil {
		return errors.New("keys rotate: the configured stores hold no tokens")
	}
	kid, err := app.Tokens.Keys.Rotate(rc)
	if err != nil {
		return fmt.Errorf("keys rotate: %w", err)
	}
	app.Log.Info("audit", slog.Bool("audit", true), slog.String("event", "keys.rotated"), slog.String("kid", kid), slog.String("reason", "cli"))
	fmt.Fprintf(rc.m.Stdout, "new key %s: published now, signs once every JWKS cache holds it\n", kid)
	return nil
}

type keysRetireCmd struct {
	jsonFlag
	KID string `arg:"" name:"kid" help:"The kid of the key to retire."`
	Now bool   `help:"Required: the key stops verifying at once, and every token it signed with it (users sign in or refresh again)."`
}

func (c *keysRetireCmd) Run(rc *runCtx) error {
	if !c.Now {
		return errors.New("keys retire: --now is required (tokens the key signed stop working at once; for a planned change use keys rotate)")
	}
	app, err := rc.app(nil)
	if err != nil {
		return err
	}
	defer app.Close()
	if app.Tokens == nil {
		return errors.New("keys retire: the configured stores hold no tokens")
	}
	signer, err := app.Tokens.Keys.Retire(rc, c.KID)
	if err != nil {
		return fmt.Errorf("keys retire: %w", err)
	}
	app.Log.Info("audit", slog.Bool("audit", true), slog.String("event", "keys.retired"), slog.String("kid", c.KID),
		slog.String("signing_kid", signer), slog.String("reason", "cli"))
	if c.JSON {
		return printJSON(rc.m.Stdout, map[string]string{"retired": c.KID, "kid": signer})
	}
	fmt.Fprintf(rc.m.Stdout, "key %s retired: gone from the JWKS, its tokens refused (other nodes within %s); key %s signs now\n",
		c.KID, sessiondapp.KeyRefreshInterval, signer)
	return nil
}
