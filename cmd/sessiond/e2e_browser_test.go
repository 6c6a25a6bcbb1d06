package main_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// browserUsers are the accounts e2e/pages.test.mjs signs in with, one per
// scenario so that no scenario sees another's devices.
var browserUsers = []string{"login", "devices", "signout", "everywhere", "password", "cookie", "csrf", "narrow", "ada"}

const browserPassword = "correct horse battery staple"

var summary = regexp.MustCompile(`(?m)^\S+ pass [1-9][0-9]*\n\S+ fail 0\n(?:.*\n)*?\S+ skipped 0$`)

// TestBrowser_E2E runs the login and account pages in a real headless
// Chromium (Debian's chromium, driven by playwright-core from e2e/) against
// the real binary: over plain HTTP, and over HTTPS with a self-signed
// certificate for the cookie's __Host- prefix. It covers rules 3, 6 and 20 in
// a browser, and takes the README's screenshots (written to docs/screenshots/
// with SESSIOND_UPDATE_SCREENSHOTS=1, as `make screenshots` does).
//
// Without Chromium, node or e2e/node_modules it skips, loudly; with CI=true
// it fails.
func TestBrowser_E2E(t *testing.T) {
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	e2e := filepath.Join(root, "e2e")
	var missing []string
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, "Chromium at "+chromium+" (apt-get install -y chromium)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node (apt-get install -y nodejs)")
	}
	if _, err := os.Stat(filepath.Join(e2e, "node_modules", "playwright-core", "package.json")); err != nil {
		missing = append(missing, "e2e/node_modules (cd e2e && npm ci)")
	}
	if len(missing) > 0 {
		msg := "browser tests need " + strings.Join(missing, ", ")
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true: a missing browser fails)", msg)
		}
		fmt.Fprintf(os.Stderr, "\n!!! SKIPPING %s: %s\n\n", t.Name(), msg)
		t.Skipf("SKIPPED: %s", msg)
	}

	// Plain HTTP.
	data := t.TempDir()
	for _, u := range browserUsers {
		if out, err := run(t, browserPassword+"\n", "user", "add", "--data", data, "--email", u+"@example.com", "--password-stdin"); err != nil {
			t.Fatalf("user add %s: %v\n%s", u, err, out)
		}
	}
	p := serve(t, data)

	// HTTPS with a self-signed certificate.
	tlsDir := t.TempDir()
	cert, key, _ := selfSigned(t, tlsDir)
	cfg := writeConfig(t, tlsDir, "tls:\n  cert: "+cert+"\n  key: "+key+"\n")
	if out, err := run(t, browserPassword+"\n", "user", "add", "--config", cfg, "--data", tlsDir, "--email", "tls@example.com", "--password-stdin"); err != nil {
		t.Fatalf("user add tls: %v\n%s", err, out)
	}
	pt := serve(t, tlsDir, "--config", cfg)
	tlsURL := "https://" + strings.TrimPrefix(pt.url, "http://")

	// Ordinary runs write the screenshots to a temporary directory (still
	// checked below); `make screenshots` refreshes the committed ones.
	shots := t.TempDir()
	if os.Getenv("SESSIOND_UPDATE_SCREENSHOTS") == "1" {
		shots = filepath.Join(root, "docs", "screenshots")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-concurrency=1", "--test-reporter=spec", filepath.Join(e2e, "pages.test.mjs"))
	cmd.Dir = e2e
	cmd.Env = cliEnv("SESSIOND_URL="+p.url, "SESSIOND_TLS_URL="+tlsURL, "SESSIOND_PASSWORD="+browserPassword,
		"SESSIOND_SCREENSHOTS="+shots, "CHROMIUM="+chromium)
	if d := os.Getenv("SESSIOND_SCREENSHOTS_DARK"); d != "" {
		cmd.Env = append(cmd.Env, "SESSIOND_SCREENSHOTS_DARK="+d)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("browser tests failed (%v):\n%s\nsessiond stderr:\n%s", err, out, p.stderr)
	}
	t.Logf("browser tests passed in %s:\n%s", time.Since(start).Round(time.Millisecond), out)
	// The summary ends "ℹ pass N / ℹ fail 0 / ... / ℹ skipped 0": every
	// scenario ran.
	if !summary.Match(out) {
		t.Fatalf("the browser test run did not report every test as passed:\n%s", out)
	}
	for _, name := range []string{"login-desktop.png", "login-narrow.png", "account-desktop.png", "account-narrow.png"} {
		fi, err := os.Stat(filepath.Join(shots, name))
		if err != nil || fi.Size() < 5000 || fi.ModTime().Before(start.Add(-time.Second)) {
			t.Errorf("screenshot %s not written by this run: %v", name, err)
		}
	}
}
