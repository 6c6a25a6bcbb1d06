package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/sessiond/sessiond"

// allowed maps a package (relative to the module; a trailing "/" covers its
// sub-packages) to the non-standard-library imports it may have: module
// packages relative to the module root, others by import path prefix. Keep
// it in step with docs/ARCHITECTURE.md.
var allowed = map[string][]string{
	"session":           {},
	"ratelimit":         {},
	"account":           {"session", "golang.org/x/crypto/", "golang.org/x/text/"},
	"token":             {"session", "github.com/go-jose/go-jose/v4"},
	"refresh":           {"session"},
	"client":            {"session"},
	"verifier":          {"token", "session", "github.com/go-jose/go-jose/v4"},
	"mfa":               {"session", "github.com/pquerna/otp", "github.com/go-webauthn/webauthn/"},
	"mfa/mfatest":       {"mfa", "github.com/google/go-cmp"},
	"store/memstore":    {"session", "mfa", "account", "token", "refresh", "ratelimit", "client", "oidc/op"},
	"gateway":           {"internal/redact"},
	"oidc":              {"session", "account", "github.com/coreos/go-oidc/v3/", "golang.org/x/oauth2"},
	"oidc/oidctest":     {"token"},
	"oidc/op":           {"session", "token", "client", "account"},
	"internal/web":      {},
	"mail":              {"github.com/wneessen/go-mail"},
	"mail/mailtest":     {"mail"},
	"store/sqlitestore": {"session", "mfa", "mail", "account", "token", "refresh", "ratelimit", "client", "oidc/op", "store/nearcache", "github.com/pressly/goose/v3", "modernc.org/sqlite"},
	"store/redisstore":  {"session", "account", "token", "refresh", "ratelimit", "client", "internal/redact", "github.com/redis/rueidis"},
	"store/pgstore":     {"session", "mfa", "mail", "account", "token", "refresh", "ratelimit", "client", "oidc/op", "store/nearcache", "github.com/jackc/pgx/v5", "github.com/pressly/goose/v3"},
	"store/nearcache":   {"github.com/maypok86/otter/v2"},
	"store/storetest":   {"session", "account", "token", "refresh", "ratelimit", "client", "oidc/op", "github.com/google/go-cmp/"},
	"internal/config":   {"ratelimit", "gateway", "internal/redact", "go.yaml.in/yaml/v3"},
	"internal/redact":   {},
	"internal/testenv":  {"github.com/jackc/pgx/v5", "github.com/redis/rueidis"},
	"bench/":            {"*"},
	"internal/archtest": {},
	"internal/server":   {"*"},
	"internal/app":      {"*"},
	"internal/cli":      {"*"},
	"cmd/sessiond":      {"internal/cli"},
}

// denied narrows a "*" row: module packages (a trailing "/" covers the
// sub-packages) the package must not import even so. internal/server serves
// HTTP over the library's interfaces; internal/app opens the stores.
var denied = map[string][]string{
	"internal/server": {"store/"},
}

type pkg struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

func TestImportsFollowArchitecture(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		rules, ok := rulesFor(rel)
		if !ok {
			t.Errorf("package %s has no row in the architecture table (internal/archtest and docs/ARCHITECTURE.md)", rel)
			continue
		}
		seen++
		for _, imp := range p.Imports {
			if !isStd(imp) && allowedImport(denied[rel], rel, imp) {
				t.Errorf("%s imports %s, which docs/ARCHITECTURE.md forbids", rel, imp)
				continue
			}
			if isStd(imp) || allowedImport(rules, rel, imp) {
				continue
			}
			t.Errorf("%s imports %s, which docs/ARCHITECTURE.md does not allow", rel, imp)
		}
	}
	if seen < 5 {
		t.Fatalf("only %d packages checked", seen)
	}
}

func rulesFor(rel string) ([]string, bool) {
	if r, ok := allowed[rel]; ok {
		return r, true
	}
	for k, r := range allowed {
		if strings.HasSuffix(k, "/") && strings.HasPrefix(rel, k) {
			return r, true
		}
	}
	return nil, false
}

func allowedImport(rules []string, rel, imp string) bool {
	for _, r := range rules {
		if r == "*" {
			return true
		}
		full := r
		if !strings.Contains(strings.SplitN(r, "/", 2)[0], ".") {
			full = module + "/" + r
		}
		if imp == full || strings.HasSuffix(full, "/") && strings.HasPrefix(imp, full) || strings.HasPrefix(imp, full+"/") {
			return true
		}
	}
	return false
}

// isStd reports whether imp is in the standard library: its first element
// has no dot.
func isStd(imp string) bool {
	return !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".")
}
