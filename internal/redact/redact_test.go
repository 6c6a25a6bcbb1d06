package redact_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/internal/redact"
)

// TestRedactURL_NeverLeaksPassword: whatever a password holds ("@", ":",
// "%40", "/"), however the URL is written, no part of it survives; the rest
// of a URL stays readable.
func TestRedactURL_NeverLeaksPassword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		secrets        []string // none may appear in the output
	}{
		{"plain", "postgres://app:s3cret@db/x", "postgres://app:xxxxx@db/x", []string{"s3cret"}},
		{"@ in password", "postgres://app:s3cr@t@db/x", "postgres://app:xxxxx@db/x", []string{"s3cr", "@t@"}},
		{"two @ in password", "postgres://u:p@ss:w@rd@h:5432/db", "postgres://u:xxxxx@h:5432/db", []string{"p@ss", "w@rd", "rd@"}},
		{": in password", "postgres://app:s3:cr:et@db/x", "postgres://app:xxxxx@db/x", []string{"s3", "cr:et"}},
		{"%40 in password", "postgres://app:s3cr%40t@db/x", "postgres://app:xxxxx@db/x", []string{"s3cr", "%40t", "@t"}},
		{"%3A in password", "postgres://app:a%3Ab@db:5432/x?sslmode=require", "postgres://app:xxxxx@db:5432/x?sslmode=require", []string{"a%3Ab", "a:b"}},
		{"password only", "redis://:s3cret@h:6379", "redis://:xxxxx@h:6379", []string{"s3cret"}},
		{"rediss", "rediss://default:s3cret@cache.internal:6380/0", "rediss://default:xxxxx@cache.internal:6380/0", []string{"s3cret"}},
		{"redis+cluster", "redis+cluster://u:s3cret@a:7000,b:7001/0", "redis+cluster://u:xxxxx@a:7000,b:7001/0", []string{"s3cret"}},
		{"rediss+cluster", "rediss+cluster://:s3c@ret@a:7000", "rediss+cluster://:xxxxx@a:7000", []string{"s3c", "ret@"}},
		{"pg multi host", "postgres://app:s3cret@h1:5432,h2:5432/db", "postgres://app:xxxxx@h1:5432,h2:5432/db", []string{"s3cret"}},
		{"query password", "postgres://db/x?user=app&password=s3cret&sslmode=verify-full", "postgres://db/x?user=app&password=xxxxx&sslmode=verify-full", []string{"s3cret"}},
		{"query sslpassword", "postgres://app@db/x?sslpassword=s3cret", "postgres://app@db/x?sslpassword=xxxxx", []string{"s3cret"}},
		{"userinfo and query", "postgres://app:one@db/x?password=two", "postgres://app:xxxxx@db/x?password=xxxxx", []string{"one", "two"}},
		{"no password", "postgres://app@db/x", "postgres://app@db/x", nil},
		{"no userinfo", "postgres://db:5432/x?sslmode=disable", "postgres://db:5432/x?sslmode=disable", nil},
		{"@ after the host", "https://auth.example.com/x?a=b@c", "https://auth.example.com/x?a=b@c", nil},
		{"sqlite path", "sqlite:/var/lib/sessiond/x.db", "sqlite:/var/lib/sessiond/x.db", nil},
		{"memory", "memory:", "memory:", nil},
		{"empty", "", "", nil},
		{"text", "plain string with user:pass@host in", "plain string with user:xxxxx@host in", []string{"pass"}},
		{"missing colon after scheme", "postgres//u:hunter2@db/x", "postgres//u:xxxxx@db/x", []string{"hunter2"}},
		{"e-mail address", "admin@example.com", "admin@example.com", nil},
		{"invalid: space in password", "postgres://app:s3 cret@db/x", "postgres://xxxxx@db/x", []string{"s3", "cret", "app"}},
		{"invalid: bad escape in password", "postgres://app:s3%zzcret@db/x", "postgres://xxxxx@db/x", []string{"s3", "zzcret"}},
		{"invalid: control byte", "redis://u:s3\ncret@h:6379", "redis://xxxxx@h:6379", []string{"s3", "cret"}},
		{"invalid: bad port", "postgres://app:s3cret@db:port/x", "postgres://xxxxx@db:port/x", []string{"s3cret"}},
		{"# in password", "postgres://app:0#0000@db:5432/x", "postgres://xxxxx@db:5432/x", []string{"0000"}},
		{"? in password", "postgres://app:1?ss@db:5432/x", "postgres://xxxxx@db:5432/x", []string{"ss"}},
		{"? and # in password", "postgres://app:1?s#s@db", "postgres://xxxxx@db", []string{"s#s", "?s"}},
		{"invalid scheme", "1postgres://app:s3cret@db/x", "xxxxx@db/x", []string{"s3cret"}},
		{"opaque userinfo", "mysql:root:s3cret@db", "mysql:xxxxx@db", []string{"s3cret", "root"}},
		{"dsn", "host=db user=app password=s3cret dbname=x", "host=db user=app password=xxxxx dbname=x", []string{"s3cret"}},
		{"dsn quoted", `host=db password='s3 c\'ret' dbname=x`, "host=db password=xxxxx dbname=x", []string{"s3", "c\\'ret", "ret"}},
		{"dsn spaced", "host=db password = s3cret", "host=db password = xxxxx", []string{"s3cret"}},
		{"dsn upper case", "host=db PASSWORD=s3cret", "host=db PASSWORD=xxxxx", []string{"s3cret"}},
		{"dsn with @ and :", "host=db password=s3:c@ret", "host=db password=xxxxx", []string{"s3", "c@ret"}},
		// The cases of internal/config's former copy.
		{"config: short", "postgres://u:p@h/db", "postgres://u:xxxxx@h/db", nil},
		{"config: redis password only", "redis://:p@h:6379", "redis://:xxxxx@h:6379", nil},
		{"config: cluster", "redis+cluster://u:p@a:1,b:2/0", "redis+cluster://u:xxxxx@a:1,b:2/0", nil},
		{"dsn sslpassword", "host=db sslpassword=s3cret", "host=db sslpassword=xxxxx", []string{"s3cret"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := redact.URL(tc.in)
			if got != tc.want {
				t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
			}
			for _, s := range tc.secrets {
				if strings.Contains(got, s) {
					t.Errorf("URL(%q) = %q leaks %q", tc.in, got, s)
				}
			}
		})
	}
}

// FuzzURL: for a URL with a password, the password never appears in the
// output, whatever it holds.
func FuzzURL(f *testing.F) {
	f.Add("s3cr@t")
	f.Add("a:b%40c")
	f.Add("p w")
	f.Fuzz(func(t *testing.T, pass string) {
		if len(pass) < 6 || strings.Contains(pass, "xxxxx") {
			return // short ones occur by chance in the rest of the URL
		}
		ins := []string{
			"postgres://app:" + url.QueryEscape(pass) + "@db.internal:5432/x",
			"host=db.internal password='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(pass) + "' dbname=x",
		}
		if !strings.Contains(pass, "/") {
			// A raw "/" ends the user info for every parser.
			ins = append(ins, "postgres://app:"+pass+"@db.internal:5432/x")
		}
		for _, in := range ins {
			if got := redact.URL(in); strings.Contains(got, pass) {
				t.Fatalf("URL(%q) = %q leaks the password", in, got)
			}
		}
	})
}
