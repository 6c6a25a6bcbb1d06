package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/app"
	"github.com/sessiond/sessiond/internal/config"
	"github.com/sessiond/sessiond/internal/testenv"
)

// browser is a cookie-jar client of a built App.
type browser struct {
	t    *testing.T
	url  string
	hc   *http.Client
	csrf string
}

func newBrowser(t *testing.T, a *app.App) *browser {
	t.Helper()
	srv := httptest.NewServer(a.Server)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, url: srv.URL, hc: &http.Client{Jar: jar}}
}

func (b *browser) post(path string, body any) (int, map[string]any) {
	b.t.Helper()
	j, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", b.url+path, bytes.NewReader(j))
	req.Header.Set("Content-Type", "application/json")
	if b.csrf != "" {
		req.Header.Set("X-CSRF-Token", b.csrf)
	}
	res, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	if c, ok := out["csrf_token"].(string); ok {
		b.csrf = c
	}
	return res.StatusCode, out
}

// loginWithRecoveryCode signs email in with the password and a recovery code
// and checks the session reached aal2.
func loginWithRecoveryCode(t *testing.T, a *app.App, email, password, code string) {
	t.Helper()
	b := newBrowser(t, a)
	if st, out := b.post("/v1/login", map[string]string{"email": email, "password": password}); st != 200 || out["mfa_required"] != true {
		t.Fatalf("login of a user with a factor: %d %v", st, out)
	}
	st, out := b.post("/v1/mfa/verify", map[string]string{"method": "recovery_code", "code": code})
	if s, _ := out["session"].(map[string]any); st != 200 || s["aal"] != float64(2) {
		t.Fatalf("verify: %d %v", st, out)
	}
}

// enrol registers email, enrols an authenticator through the API and
// returns the recovery codes.
func enrol(t *testing.T, a *app.App, email, password string) []string {
	t.Helper()
	if _, err := a.Accounts.Register(context.Background(), email, password, nil, ""); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, a)
	if st, out := b.post("/v1/login", map[string]string{"email": email, "password": password}); st != 200 {
		t.Fatalf("login: %d %v", st, out)
	}
	st, out := b.post("/v1/mfa/totp", nil)
	secret, _ := out["secret"].(string)
	if st != 200 || secret == "" {
		t.Fatalf("enrol: %d %v", st, out)
	}
	var codes []string
	code, err := testenv.TOTPCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st, out = b.post("/v1/mfa/totp/confirm", map[string]string{"code": code}); st != 200 {
		t.Fatalf("confirm: %d %v", st, out)
	}
	for _, v := range out["recovery_codes"].([]any) {
		codes = append(codes, v.(string))
	}
	return codes
}

const mfaPassword = "correct horse battery staple 9"

// Second factors on the embedded store need no configured key: one is made
// in the data directory (0600) and found again after a restart, so the
// enrolment made before still opens.
func TestBuild_MFAOnEmbeddedStoreKeepsItsKey(t *testing.T) {
	dir := t.TempDir()
	cfg := func() *config.Config {
		c, err := config.Load("", nil, map[string]string{"data": dir})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, err := app.Build(context.Background(), cfg(), nil)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	codes := enrol(t, a, "a@example.com", mfaPassword)
	loginWithRecoveryCode(t, a, "a@example.com", mfaPassword, codes[0])
	a.Close()
	fi, err := os.Stat(filepath.Join(dir, "mfa.kek"))
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Fatalf("mfa.kek: %v %v", fi, err)
	}
	a, err = app.Build(context.Background(), cfg(), nil)
	if err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	defer a.Close()
	loginWithRecoveryCode(t, a, "a@example.com", mfaPassword, codes[1])
	b := newBrowser(t, a)
	if st, out := b.post("/v1/login", map[string]string{"email": "a@example.com", "password": mfaPassword}); st != 200 || out["mfa_required"] != true {
		t.Fatalf("login after restart: %d %v", st, out)
	}
}

// On PostgreSQL the login with a second factor works with the configured
// key-encryption key, and a recovery code works once.
func TestBuild_MFALoginOnPostgres(t *testing.T) {
	dsn := testenv.Postgres(t)
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	flags := map[string]string{"store.users": dsn, "store.sessions": dsn, "token.key_encryption_key": base64.StdEncoding.EncodeToString(kek)}
	a, err := app.Build(context.Background(), buildConfig(t, flags), nil)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	defer a.Close()
	codes := enrol(t, a, "a@example.com", mfaPassword)
	loginWithRecoveryCode(t, a, "a@example.com", mfaPassword, codes[0])
	b := newBrowser(t, a)
	b.post("/v1/login", map[string]string{"email": "a@example.com", "password": mfaPassword})
	if st, out := b.post("/v1/mfa/verify", map[string]string{"method": "recovery_code", "code": codes[0]}); st != 401 || !strings.Contains(out["error"].(string), "invalid_credentials") {
		t.Fatalf("a spent recovery code: %d %v", st, out)
	}
}
