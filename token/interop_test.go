package token

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireTool skips the test with a loud message when a tool is missing, or
// fails it when CI=true, where the interop check must run.
func requireTool(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("interop test cannot run (CI=true makes this an error): "+format, args...)
	}
	t.Skipf("!!! INTEROP TEST SKIPPED: "+format+" — install node >= 20 and run `npm ci` in token/testdata/interop", args...)
}

// TestInterop_JoseNode verifies our tokens with an independent
// implementation (panva/jose on node) through the published JWKS only, for
// every asymmetric alg, and checks that it refuses tampered tokens too.
func TestInterop_JoseNode(t *testing.T) {
	t.Parallel()
	dir, err := filepath.Abs(filepath.Join("testdata", "interop"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		requireTool(t, "node not found in PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "jose", "package.json")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			requireTool(t, "node_modules missing and npm not found in PATH")
		}
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			requireTool(t, "npm ci in %s failed: %v\n%s", dir, err, out)
		}
	}

	// One deployment that rotated EdDSA -> ES256 -> RS256: the JWKS holds
	// all three keys, each token was signed while its key was the signer.
	e := newEnv(t, EdDSA)
	type tc struct {
		Name  string `json:"name"`
		Token string `json:"token"`
		Valid bool   `json:"valid"`
	}
	var cases []tc
	for i, alg := range []Alg{EdDSA, ES256, RS256} {
		if i > 0 {
			if err := e.keys.Add(context.Background(), testKey(t, alg)); err != nil {
				t.Fatal(err)
			}
		}
		tok := e.issue(t, userClaims())
		mustAccept(t, e.ver, tok)
		p := strings.Split(tok, ".")
		admin := validClaims()
		admin["roles"] = []string{"admin", "root"}
		other := newEnv(t, EdDSA)
		cases = append(cases,
			tc{string(alg) + " valid", tok, true},
			tc{string(alg) + " tampered payload", p[0] + "." + b64(mustJSON(t, admin)) + "." + p[2], false},
			tc{string(alg) + " stripped signature", p[0] + "." + p[1] + ".", false},
			tc{string(alg) + " wrong typ", e.issue(t, userClaims(), WithType("JWT")), false},
			tc{string(alg) + " other deployment", other.issue(t, userClaims()), false},
		)
	}
	expired := e.issue(t, Claims{Subject: "late", IssuedAt: t0.Add(-time.Hour), ExpiresAt: t0.Add(-50 * time.Minute)})
	cases = append(cases, tc{"expired", expired, false})

	jwks, err := e.keys.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(jwksKids(t, e.keys)); n != 3 {
		t.Fatalf("JWKS has %d keys, want 3", n)
	}
	input, err := json.Marshal(map[string]any{
		"jwks": json.RawMessage(jwks), "issuer": testIssuer, "audience": testAudience,
		"now": e.clk.Now().Unix(), "cases": cases,
	})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "cases.json")
	if err := os.WriteFile(file, input, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, node, "verify.mjs", file)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	t.Logf("node verify.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("jose (node) disagrees with the expected outcomes: %v", err)
	}
	passed := 0
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "ok ") {
			passed++
		}
	}
	if passed != len(cases) {
		t.Fatalf("node reported %d passing cases, want %d", passed, len(cases))
	}
}
