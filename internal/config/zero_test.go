package config

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// listItems are minimal valid list elements for the number and duration
// keys inside lists of objects (file only), keyed by the list's key.
var listItems = map[string]string{
	"gateway.routes": "path_prefix: /zero, upstream: http://127.0.0.1:9",
}

// yamlFor writes dotted key = val as nested YAML; a key inside a list of
// objects becomes one list element with listItems' fields.
func yamlFor(t *testing.T, key, val string) string {
	t.Helper()
	if list, field, ok := strings.Cut(key, "[]."); ok {
		item, known := listItems[list]
		if !known {
			t.Fatalf("no minimal list element for %s: add one to listItems", list)
		}
		return yamlFor(t, list, "[{"+item+", "+field+": "+val+"}]")
	}
	parts := strings.Split(key, ".")
	var b strings.Builder
	for i, p := range parts {
		b.WriteString(strings.Repeat("  ", i) + p + ":")
		if i < len(parts)-1 {
			b.WriteString("\n")
		}
	}
	return b.String() + " " + val + "\n"
}

// Issue 13 item 7: a number or duration written as 0, in the file, the
// environment or a flag, is never replaced by the default. Keys whose `zero`
// tag says what 0 means keep it; every other key refuses it with a message
// naming the key and where it was written. Every such key is tried.
func TestWrittenZero_KeptOrRefusedForEveryKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var leaves []leaf
	walk(reflect.TypeFor[Config](), "", []int{}, func(lf leaf) {
		if lf.field.kind == kindInt || lf.field.kind == kindDuration {
			leaves = append(leaves, lf)
		}
	})
	if len(leaves) < 20 {
		t.Fatalf("only %d number and duration keys found", len(leaves))
	}
	for _, lf := range leaves {
		sources := map[string]func() (string, *Config, error){
			"file": func() (string, *Config, error) {
				path := filepath.Join(dir, strings.NewReplacer("[", "", "]", "", ".", "_").Replace(lf.key)+".yaml")
				if err := os.WriteFile(path, []byte(yamlFor(t, lf.key, "0")), 0o600); err != nil {
					t.Fatal(err)
				}
				c, err := Load(path, nil, nil)
				return path + ":", c, err
			},
		}
		if lf.path != nil { // not inside a list: the environment and flags can set it
			sources["env"] = func() (string, *Config, error) {
				c, err := Load("", []string{envName(lf.key) + "=0"}, nil)
				return "env " + envName(lf.key), c, err
			}
			sources["flag"] = func() (string, *Config, error) {
				c, err := Load("", nil, map[string]string{lf.key: "0"})
				return "flag --" + lf.key, c, err
			}
		}
		for src, load := range sources {
			t.Run(lf.key+"/"+src, func(t *testing.T) {
				where, c, err := load()
				if lf.field.zero == "" {
					key := strings.Replace(lf.key, "[]", "[0]", 1)
					if err == nil || !strings.Contains(err.Error(), where) ||
						!strings.Contains(err.Error(), key+": 0 is not allowed") {
						t.Fatalf("written 0: want an error naming %s and %q, got %v", key, where, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("written 0 where it means %q: %v", lf.field.zero, err)
				}
				got := reflect.ValueOf(c).Elem().FieldByIndex(lf.path)
				want := reflect.Zero(got.Type()).Interface()
				if lf.field.zero == lf.field.derived { // 0 means the derived default
					want = runtime.NumCPU()
				}
				if !reflect.DeepEqual(got.Interface(), want) {
					t.Fatalf("written 0 (%s) became %v, want %v", lf.field.zero, got.Interface(), want)
				}
			})
		}
	}
}

// A later source overrides a 0 written in an earlier one, and an empty
// value (or a key left out) still means the default.
func TestWrittenZero_OverriddenOrReset(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("session:\n  idle_timeout: 0\ntoken:\n  leeway: 0s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, []string{"SESSIOND_SESSION_IDLE_TIMEOUT=2h", "SESSIOND_TOKEN_LEEWAY="}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Session.IdleTimeout.Duration.String() != "2h0m0s" || c.Token.Leeway.Duration.String() != "30s" {
		t.Fatalf("idle %s leeway %s, want 2h and the default 30s", c.Session.IdleTimeout, c.Token.Leeway)
	}
}
