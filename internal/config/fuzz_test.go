package config

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the YAML loader: it must never panic,
// must return either a Config or an error made of "config: " lines, and a
// Config it returns must survive a round trip through String.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(fullFile))
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := load("fuzz.yaml", src, nil, nil)
		if err != nil {
			if c != nil {
				t.Fatal("load returned both a Config and an error")
			}
			for line := range strings.SplitSeq(err.Error(), "\n") {
				if !strings.HasPrefix(line, "config: ") {
					t.Fatalf("error line %q does not start with \"config: \"", line)
				}
			}
			return
		}
		out := c.String()
		if strings.Contains(out, redacted) || strings.Contains(out, ":xxxxx@") {
			return // hidden values cannot round-trip
		}
		again, err := load("again.yaml", []byte(out), nil, nil)
		if err != nil {
			t.Fatalf("String() output does not load: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("String() round trip changed the config:\n%s\n---\n%s", out, again.String())
		}
	})
}

func TestAliasBomb(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("token:\n  audience: &s [")
	for i := range 1000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("a")
	}
	b.WriteString("]\noidc:\n  providers:\n")
	b.WriteString("  - &p {name: a, issuer: https://a.example, client_id: c, scopes: *s}\n")
	for range 1000 {
		b.WriteString("  - *p\n")
	}
	_, err := load("bomb.yaml", []byte(b.String()), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "values after expanding aliases") {
		t.Fatalf("want the alias budget error, got %v", err)
	}
}
