package config

import (
	"encoding"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestDocsListEveryKey keeps docs/configuration.md true: every key has a
// row with its type, default and variable, and every row is a key.
func TestDocsListEveryKey(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{} // key → cells
	rowRE := regexp.MustCompile("^\\| `([a-z0-9_.\\[\\]]+)` \\|")
	for line := range strings.SplitSeq(string(b), "\n") {
		m := rowRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var cells []string
		for c := range strings.SplitSeq(strings.Trim(line, "|"), "|") {
			cells = append(cells, strings.TrimSpace(c))
		}
		rows[m[1]] = cells
	}
	known := map[string]bool{}
	for _, k := range Keys() {
		known[k.Key] = true
		cells, ok := rows[k.Key]
		if !ok {
			t.Errorf("docs/configuration.md has no row for key %s; add: | `%s` | %s | %s | %s | what it does |", k.Key, k.Key, k.Type, docDefault(k), docEnv(k))
			continue
		}
		if len(cells) != 5 {
			t.Errorf("docs row of %s has %d cells, want 5 (key, type, default, environment, what it does)", k.Key, len(cells))
			continue
		}
		if cells[1] != k.Type {
			t.Errorf("docs give %s the type %q; it is %q", k.Key, cells[1], k.Type)
		}
		if cells[2] != docDefault(k) {
			t.Errorf("docs give %s the default %q; it is %q", k.Key, cells[2], docDefault(k))
		}
		if cells[3] != docEnv(k) {
			t.Errorf("docs give %s the variable %q; it is %q", k.Key, cells[3], docEnv(k))
		}
		if cells[4] == "" {
			t.Errorf("docs do not say what %s does", k.Key)
		}
		if k.Zero != "" && !strings.Contains(cells[4], "`0`") {
			t.Errorf("docs do not say what a written `0` means for %s (%s)", k.Key, k.Zero)
		}
	}
	for key := range rows {
		if !known[key] {
			t.Errorf("docs/configuration.md documents %s, which is not a key", key)
		}
	}
}

// docDefault is how the docs write a default: a literal value in
// backticks, words (a derived default or false) as they are, and nothing
// for an empty default.
func docDefault(k KeyInfo) string {
	switch {
	case k.Default == "" || k.Default == "false":
		return k.Default
	case strings.HasPrefix(k.Default, "the "):
		return k.Default
	}
	return "`" + k.Default + "`"
}

func docEnv(k KeyInfo) string {
	if k.Env == "" {
		return ""
	}
	return "`" + k.Env + "`"
}

func TestKeys(t *testing.T) {
	t.Parallel()
	seenEnv := map[string]string{}
	seenKey := map[string]bool{}
	for _, k := range Keys() {
		if seenKey[k.Key] {
			t.Errorf("key %s listed twice", k.Key)
		}
		seenKey[k.Key] = true
		if k.Env == "" {
			if !strings.Contains(k.Key, "[]") && k.Type != "list of objects" {
				t.Errorf("key %s has no variable", k.Key)
			}
			continue
		}
		if other, dup := seenEnv[k.Env]; dup {
			t.Errorf("keys %s and %s share the variable %s", other, k.Key, k.Env)
		}
		seenEnv[k.Env] = k.Key
		if k.Env == EnvConfig || strings.HasPrefix(k.Env, EnvTestPrefix) {
			t.Errorf("key %s has the reserved variable %s", k.Key, k.Env)
		}
	}
	for _, want := range []string{"addr", "data", "base_url", "token.access_ttl", "store.redis.prefix", "oidc.providers[].claims.email", "trusted_proxies"} {
		if !seenKey[want] {
			t.Errorf("Keys() lacks %s", want)
		}
	}
	want := KeyInfo{Key: "token.access_ttl", Type: "duration", Default: "15m", Env: "SESSIOND_TOKEN_ACCESS_TTL"}
	for _, k := range Keys() {
		if k.Key == want.Key && k != want {
			t.Errorf("Keys() has %+v, want %+v", k, want)
		}
		if k.Key == "token.hs256_secret" && !k.Secret {
			t.Errorf("token.hs256_secret is not marked secret")
		}
	}
}

// TestStructRules checks the rules a new key must follow, so that adding
// one goes wrong in a test rather than at a user's start.
func TestStructRules(t *testing.T) {
	t.Parallel()
	var check func(t reflect.Type, prefix string)
	check = func(typ reflect.Type, prefix string) {
		for i := range typ.NumField() {
			sf := typ.Field(i)
			if !sf.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
			key := joinKey(prefix, name)
			if name == "" {
				t.Errorf("%s.%s has no yaml tag", typ.Name(), sf.Name)
				continue
			}
			if !regexp.MustCompile(`^[a-z][a-z0-9_]*$`).MatchString(name) {
				t.Errorf("key %s: name %q is not snake_case", key, name)
			}
			k := kindOf(sf.Type)
			if k == kindUnsupported {
				t.Errorf("key %s has type %s, which config cannot read (use Duration for durations)", key, sf.Type)
			}
			def, derived := sf.Tag.Get("default"), sf.Tag.Get("derived")
			if def != "" && derived != "" {
				t.Errorf("key %s has both a default and a derived tag", key)
			}
			if k == kindBool && def != "" {
				t.Errorf("key %s: a bool must default to false (zero means default); name it the other way round", key)
			}
			if def != "" {
				v := reflect.New(sf.Type).Elem()
				if err := setString(v, k, def); err != nil {
					t.Errorf("key %s: default %q does not parse: %v", key, def, err)
				} else if isZero(v) && def != "0s" {
					t.Errorf("key %s: default %q is the zero value; drop the tag", key, def)
				}
			}
			if (k == kindStruct || k == kindStructList) && (def != "" || derived != "") {
				t.Errorf("key %s: an object cannot have a default tag", key)
			}
			switch k {
			case kindStruct:
				check(sf.Type, key)
			case kindStructList:
				check(sf.Type.Elem(), key+"[]")
			}
		}
	}
	check(reflect.TypeFor[Config](), "")
}

// Derived defaults must be filled in by ApplyDefaults.
func TestDerivedDefaultsAreFilled(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, "", nil, nil)
	root := reflect.ValueOf(c).Elem()
	walk(root.Type(), "", []int{}, func(lf leaf) {
		if lf.path == nil || (lf.field.def == "" && lf.field.derived == "") {
			return
		}
		if isZero(root.FieldByIndex(lf.path)) && lf.field.def != "0s" {
			t.Errorf("key %s is still zero after Load", lf.key)
		}
	})
}

type upper string

func (u *upper) UnmarshalText(b []byte) error {
	if strings.ToUpper(string(b)) != string(b) {
		return fmt.Errorf("not upper case")
	}
	*u = upper(b)
	return nil
}

var _ encoding.TextUnmarshaler = (*upper)(nil)

func TestSetStringCustomText(t *testing.T) {
	t.Parallel()
	var u upper
	v := reflect.ValueOf(&u).Elem()
	if k := kindOf(v.Type()); k != kindText {
		t.Fatalf("kindOf(upper) = %v, want kindText", k)
	}
	if err := setString(v, kindText, "ABC"); err != nil || u != "ABC" {
		t.Errorf("setString(ABC) = %v, %q", err, u)
	}
	if err := setString(v, kindText, "abc"); err == nil || err.Error() != `"abc" is not valid: not upper case` {
		t.Errorf("setString(abc) = %v", err)
	}
	var list []upper
	lv := reflect.ValueOf(&list).Elem()
	if err := setString(lv, kindOf(lv.Type()), "A, B,,C"); err != nil || fmt.Sprint(list) != "[A B C]" {
		t.Errorf("setString(list) = %v, %v", err, list)
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	keys := []string{"access_ttl", "refresh_ttl", "leeway", "alg"}
	for in, want := range map[string]string{"acess_ttl": "access_ttl", "leway": "leeway", "algo": "alg", "zzz": "", "refresh": ""} {
		if got := suggest(in, keys); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}
