package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/client"
)

func runCLI(t *testing.T, data, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Args: append(args, "--data", data), Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}
	err := m.Run(context.Background())
	return out.String(), errb.String(), err
}

func TestClientCommands(t *testing.T) {
	data := t.TempDir()
	const secret = "Xq3v9Lw2Zr8Tn5Pk1Hs7Jd4Fb6Mc0Gy_-aBcDeF"
	out, _, err := runCLI(t, data, secret+"\n", "client", "add", "--id", "web", "--secret-stdin",
		"--redirect-uri", "https://app.example.com/cb?a=1,2", "--backchannel-logout-uri", "https://app.example.com/bcl",
		"--scope", "openid", "--name", "Web app")
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	if strings.Contains(out, secret) {
		t.Fatalf("add printed the secret: %s", out)
	}
	out, _, err = runCLI(t, data, "", "client", "add", "--id", "svc", "--generate-secret", "--audience", "https://api.example.com")
	if err != nil {
		t.Fatalf("add generated: %v", err)
	}
	_, gen, ok := strings.Cut(out, "client secret (shown only now; sessiond keeps only its hash): ")
	gen = strings.TrimSpace(gen)
	if !ok || client.ValidateSecret(gen) != nil {
		t.Fatalf("no usable generated secret in %q", out)
	}
	if _, _, err := runCLI(t, data, "", "client", "add", "--id", "spa", "--public", "--redirect-uri", "http://localhost:3000/cb"); err != nil {
		t.Fatalf("add public: %v", err)
	}
	// Errors.
	for name, args := range map[string][]string{
		"duplicate":        {"client", "add", "--id", "spa", "--public", "--redirect-uri", "http://localhost:3000/cb"},
		"no secret mode":   {"client", "add", "--id", "x", "--redirect-uri", "https://a.example/cb"},
		"two secret modes": {"client", "add", "--id", "x", "--public", "--generate-secret", "--redirect-uri", "https://a.example/cb"},
		"bad redirect":     {"client", "add", "--id", "x", "--public", "--redirect-uri", "http://a.example/cb"},
		"reserved id":      {"client", "add", "--id", "sessiond", "--public", "--redirect-uri", "https://a.example/cb"},
		"remove missing":   {"client", "remove", "--id", "nobody"},
		"remove built-in":  {"client", "remove", "--id", "sessiond"},
	} {
		if out, errOut, err := runCLI(t, data, "", args...); err == nil {
			t.Errorf("%s: want an error, got %q %q", name, out, errOut)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if _, _, err := runCLI(t, data, "short\n", "client", "add", "--id", "x", "--secret-stdin", "--redirect-uri", "https://a.example/cb"); err == nil {
		t.Error("weak secret accepted")
	} else {
		t.Logf("weak secret: %v", err)
	}

	out, _, err = runCLI(t, data, "", "client", "list")
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	t.Logf("list:\n%s", out)
	if strings.Contains(out, secret) || strings.Contains(out, gen) {
		t.Fatal("list shows a secret")
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[1], "spa ") || !strings.HasPrefix(lines[2], "svc ") || !strings.HasPrefix(lines[3], "web ") ||
		!strings.Contains(lines[3], "https://app.example.com/cb?a=1,2") || !strings.Contains(lines[2], "client_credentials") {
		t.Fatalf("unexpected list:\n%s", out)
	}
	if _, _, err := runCLI(t, data, "", "client", "remove", "--id", "svc"); err != nil {
		t.Fatalf("remove: %v", err)
	}
	out, _, _ = runCLI(t, data, "", "client", "list")
	if strings.Contains(out, "svc") {
		t.Fatalf("removed client still listed:\n%s", out)
	}
	// Its ID is refused while tokens issued to it could still be alive.
	if _, _, err := runCLI(t, data, "", "client", "add", "--id", "svc", "--generate-secret"); err == nil ||
		!strings.Contains(err.Error(), "removed less than token.access_ttl") {
		t.Fatalf("re-adding a just removed client ID: %v", err)
	}
}

func TestClientAddBuild(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6789, time.UTC)
	c := &clientAddCmd{ID: "svc", GenerateSecret: true, Audience: []string{"api"}}
	cl, gen, err := c.build(nil, now)
	if err != nil || gen == "" || !cl.CheckSecret(gen) || !cl.Allows(client.GrantClientCredentials) || !cl.CreatedAt.Equal(now.Truncate(time.Millisecond)) {
		t.Fatalf("build: %+v %q %v", cl, gen, err)
	}
	c = &clientAddCmd{ID: "web", SecretStdin: true, RedirectURI: []string{"https://a.example/cb"}}
	cl, gen, err = c.build(strings.NewReader("Xq3v9Lw2Zr8Tn5Pk1Hs7Jd4Fb6Mc0Gy_-aBcDeF\r\nignored"), now)
	if err != nil || gen != "" || !cl.CheckSecret("Xq3v9Lw2Zr8Tn5Pk1Hs7Jd4Fb6Mc0Gy_-aBcDeF") || !cl.Allows(client.GrantAuthorizationCode) {
		t.Fatalf("build stdin: %+v %q %v", cl, gen, err)
	}
	if _, _, err := c.build(strings.NewReader(""), now); err == nil {
		t.Fatal("empty stdin accepted")
	}
	var b bytes.Buffer
	_ = writeClients(&b, []*client.Client{{ID: "a", Name: "x\ty\nz", SecretHash: []byte("SECRETHASH")}})
	if strings.Contains(b.String(), "SECRETHASH") || strings.Count(b.String(), "\n") != 2 {
		t.Fatalf("table: %q", b.String())
	}
}
