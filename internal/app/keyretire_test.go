package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/app"
	"github.com/sessiond/sessiond/internal/config"
	"github.com/sessiond/sessiond/token"
)

// Issue 20 item 3: two nodes on one embedded store. A key retired on one
// node stops verifying on the other within app.KeyRefreshInterval (its
// key-set reload). The time it took is printed, not asserted.
func TestKeyCompromise_OtherNodeRefusesRetiredKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	node := func() *app.App {
		t.Helper()
		cfg, err := config.Load("", nil, map[string]string{"data": dir})
		if err != nil {
			t.Fatal(err)
		}
		a, err := app.Build(ctx, cfg, nil)
		if err != nil {
			t.Fatalf("build: %v", err)
		}
		t.Cleanup(func() { _ = a.Close() })
		return a
	}
	a, b := node(), node()
	old, err := a.Tokens.Issuer.Issue(ctx, token.Claims{Subject: "u_1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Tokens.Verifier.Verify(ctx, old); err != nil {
		t.Fatalf("node b before retirement: %v", err)
	}
	signer, err := a.Tokens.Keys.Signer()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := a.Tokens.Keys.Retire(ctx, signer.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Tokens.Verifier.Verify(ctx, old); !errors.Is(err, token.ErrInvalidToken) {
		t.Fatalf("node a after retirement: %v", err)
	}
	deadline := start.Add(3 * app.KeyRefreshInterval) // a hang guard, not a timing assertion
	for {
		_, err := b.Tokens.Verifier.Verify(ctx, old)
		if errors.Is(err, token.ErrInvalidToken) {
			break
		}
		if err != nil {
			t.Fatalf("node b: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("node b still accepts the retired key's token after %s", time.Since(start))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the other node refused the retired key's token %s after retirement (bound: app.KeyRefreshInterval = %s)",
		time.Since(start).Round(time.Millisecond), app.KeyRefreshInterval)
	if s, err := b.Tokens.Keys.Signer(); err != nil || s.ID == signer.ID {
		t.Fatalf("node b signs with %v (%v) after reloading", s, err)
	}
}
