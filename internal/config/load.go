package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load builds the configuration: the YAML file at path (none when path is
// empty), then the SESSIOND_* variables of env (in os.Environ form: a
// later duplicate wins; EnvConfig and EnvTestPrefix* are ignored), then
// flags (dotted key → value, e.g. {"addr": ":9000", "dev": "true"}), each
// over the one before; then it applies defaults ([Config.ApplyDefaults]) and
// validates ([Config.Validate]).
//
// In the environment and in flags a list is comma-separated, and an empty
// value resets a key to its default. Lists of objects (oidc.providers) can
// be set only in the file.
//
// On any problem Load returns a nil Config and an error joining every
// problem found (errors.Join), one line each, naming where it was set and
// the key, and saying what to fix:
//
//	config: sessiond.yaml:12: unknown key "token.acess_ttl" (did you mean "token.access_ttl"?)
//	config: env SESSIOND_TOKEN_ACCESS_TTL: token.access_ttl: "15" is not a duration (use Go syntax like 15m or 1h30m)
//
// Values of secret keys are never quoted. Load is safe for concurrent use.
func Load(path string, env []string, flags map[string]string) (*Config, error) {
	var src []byte
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w (check --config or %s)", err, EnvConfig)
		}
		src = b
	}
	return load(path, src, env, flags)
}

func load(name string, src []byte, env []string, flags map[string]string) (*Config, error) {
	l := &loader{origins: map[string]string{}, failed: map[string]bool{}, zeros: map[string]writtenZero{}}
	var c Config
	root := reflect.ValueOf(&c).Elem()
	l.file(name, src, root)
	l.env(env, root)
	l.flags(flags, root)
	c.ApplyDefaults()
	l.writtenZeros()
	validate(&c, l.report)
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	return &c, nil
}

// loader collects problems and remembers where each key was last set.
type loader struct {
	errs    []error
	origins map[string]string      // key → "file:line", "env NAME" or "flag --key"
	failed  map[string]bool        // keys whose last value could not be read
	zeros   map[string]writtenZero // number and duration keys last written as 0
}

// writtenZero is a number or duration key whose value was written as 0 (not
// left out, null or empty): where, and the field it was read into.
type writtenZero struct {
	where string
	v     reflect.Value
}

// add records "config: where: key: msg", leaving out empty parts.
func (l *loader) add(where, key, msg string) {
	var b strings.Builder
	b.WriteString("config: ")
	if where != "" {
		b.WriteString(where + ": ")
	}
	if key != "" {
		b.WriteString(key + ": ")
	}
	b.WriteString(msg)
	l.errs = append(l.errs, errors.New(b.String()))
}

// addErr records err, one line per joined error, and marks key as failed.
func (l *loader) addErr(where, key string, err error) {
	l.failed[key] = true
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			l.add(where, key, e.Error())
		}
		return
	}
	l.add(where, key, err.Error())
}

func (l *loader) set(where, key string) {
	l.origins[key] = where
	delete(l.failed, key)
	delete(l.zeros, key)
}

// setValue is set for a value raw read into v, a leaf of kind k: a number or
// duration written as 0 is remembered for writtenZeros.
func (l *loader) setValue(where, key string, v reflect.Value, k kind, raw string) {
	l.set(where, key)
	if (k == kindInt || k == kindDuration) && strings.TrimSpace(raw) != "" && v.IsZero() {
		l.zeros[key] = writtenZero{where, v}
	}
}

// listIndex matches the index of a list element in a key (routes[2]).
var listIndex = regexp.MustCompile(`\[[0-9]+\]`)

// writtenZeros runs after ApplyDefaults: a key written as 0 gets its 0 back
// when its `zero` tag says what 0 means, and is refused otherwise, so a
// written value is never silently replaced by the default.
func (l *loader) writtenZeros() {
	fields := map[string]field{}
	walk(reflect.TypeFor[Config](), "", []int{}, func(lf leaf) { fields[lf.key] = lf.field })
	for _, key := range slices.Sorted(maps.Keys(l.zeros)) {
		w := l.zeros[key]
		f := fields[listIndex.ReplaceAllString(key, "[]")]
		if f.zero != "" {
			if f.zero != f.derived { // else 0 means the derived default, filled in already
				w.v.SetZero()
			}
			continue
		}
		l.failed[key] = true // one message for the key
		def := f.def
		if def == "" {
			def = f.derived
		}
		l.add(w.where, key, fmt.Sprintf("0 is not allowed here; leave the key out for its default (%s), or give a positive value", def))
	}
}

// report is validate's callback: problems with keys that could not be read
// are already reported.
func (l *loader) report(key, msg string) {
	if l.failed[key] {
		return
	}
	l.add(l.origins[key], key, msg)
}

// settable indexes the keys that env and flags may set, by dotted key.
func settable(t reflect.Type) map[string]leaf {
	m := map[string]leaf{}
	walk(t, "", []int{}, func(lf leaf) {
		if lf.path != nil && lf.field.kind != kindStruct {
			m[lf.key] = lf
		}
	})
	return m
}

func (l *loader) env(env []string, root reflect.Value) {
	byName := map[string]leaf{}
	for _, lf := range settable(root.Type()) {
		byName[envName(lf.key)] = lf
	}
	vals := map[string]string{}
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) || name == EnvConfig || strings.HasPrefix(name, EnvTestPrefix) {
			continue
		}
		vals[name] = val
	}
	for _, name := range slices.Sorted(maps.Keys(vals)) {
		where := "env " + name
		lf, ok := byName[name]
		if !ok {
			msg := "no key has this variable"
			var short []string
			for n := range byName {
				short = append(short, strings.TrimPrefix(n, EnvPrefix))
			}
			if s := suggest(strings.TrimPrefix(name, EnvPrefix), short); s != "" {
				msg += fmt.Sprintf(" (did you mean %s%s?)", EnvPrefix, s)
			}
			l.add(where, "", msg+"; unset it or see docs/configuration.md")
			continue
		}
		l.setLeaf(root, lf, vals[name], where, "the environment")
	}
}

func (l *loader) flags(flags map[string]string, root reflect.Value) {
	byKey := settable(root.Type())
	for _, key := range slices.Sorted(maps.Keys(flags)) {
		where := "flag --" + key
		lf, ok := byKey[key]
		if !ok {
			msg := fmt.Sprintf("unknown key %q", key)
			if s := suggest(key, slices.Collect(maps.Keys(byKey))); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			l.add(where, "", msg)
			continue
		}
		l.setLeaf(root, lf, flags[key], where, "a flag")
	}
}

func (l *loader) setLeaf(root reflect.Value, lf leaf, val, where, from string) {
	if lf.field.kind == kindStructList {
		l.addErr(where, lf.key, fmt.Errorf("is a list of objects, which cannot be set from %s; use the config file", from))
		return
	}
	v := root.FieldByIndex(lf.path)
	if err := setString(v, lf.field.kind, val); err != nil {
		l.addErr(where, lf.key, err)
		return
	}
	l.setValue(where, lf.key, v, lf.field.kind, val)
}

// maxNodes bounds the YAML values one file may expand to (aliases can
// multiply them) and maxDepth the nesting of merges.
const (
	maxNodes = 100_000
	maxDepth = 64
)

// yamlDecoder walks a yaml.Node tree against the Config struct by
// reflection, so that every problem carries its line and dotted key.
type yamlDecoder struct {
	l     *loader
	root  reflect.Type
	file  string
	nodes int
	over  bool
	depth int
}

func (l *loader) file(name string, src []byte, root reflect.Value) {
	if len(bytes.TrimSpace(src)) == 0 {
		return
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			l.add(name, "", "not valid YAML: "+strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		if len(extra.Content) > 0 && extra.Content[0].ShortTag() != "!!null" {
			l.add(fmt.Sprintf("%s:%d", name, extra.Content[0].Line), "", "a second YAML document; put every key in one document")
		}
	case !errors.Is(err, io.EOF):
		l.add(name, "", "not valid YAML: "+strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return
	}
	d := &yamlDecoder{l: l, file: name, root: root.Type()}
	n := d.resolve(doc.Content[0])
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		l.add(d.at(n), "", "the file must be a mapping of keys (key: value), not "+describe(n))
		return
	}
	d.mapping(n, root, "")
}

// keysNamed lists the settable keys whose last part is name, for a key
// written at the wrong level.
func (d *yamlDecoder) keysNamed(name string) []string {
	var out []string
	for key := range settable(d.root) {
		if strings.HasSuffix(key, "."+name) {
			out = append(out, key)
		}
	}
	return out
}

func (d *yamlDecoder) at(n *yaml.Node) string { return fmt.Sprintf("%s:%d", d.file, n.Line) }

func (d *yamlDecoder) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < maxDepth; i++ {
		n = n.Alias
	}
	return n
}

// spend counts a node against maxNodes and reports false once over it.
func (d *yamlDecoder) spend(n *yaml.Node) bool {
	d.nodes++
	if d.nodes <= maxNodes {
		return true
	}
	if !d.over {
		d.over = true
		d.l.add(d.at(n), "", fmt.Sprintf("more than %d values after expanding aliases; simplify the file", maxNodes))
	}
	return false
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return "a single value"
}

// mapping decodes the keys of mapping n into struct v. Merge keys (<<) are
// applied first, so the mapping's own keys override them.
func (d *yamlDecoder) mapping(n *yaml.Node, v reflect.Value, prefix string) {
	if !d.spend(n) {
		return
	}
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > maxDepth {
		d.l.add(d.at(n), prefix, "nested too deeply")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := d.resolve(n.Content[i]); k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			d.merge(n.Content[i+1], v, prefix)
		}
	}
	t := v.Type()
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := d.resolve(n.Content[i]), n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.l.add(d.at(k), prefix, "a key must be a plain name, not "+describe(k))
			continue
		}
		key := joinKey(prefix, k.Value)
		if line, dup := seen[k.Value]; dup {
			d.l.add(d.at(k), "", fmt.Sprintf("duplicate key %q (first at line %d); keep one", key, line))
			continue
		}
		seen[k.Value] = k.Line
		f, ok := fieldByName(t, k.Value)
		if !ok {
			d.unknown(k, t, prefix)
			continue
		}
		d.decode(val, v.Field(f.index), f.kind, key)
	}
}

func (d *yamlDecoder) merge(n *yaml.Node, v reflect.Value, prefix string) {
	n = d.resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		d.mapping(n, v, prefix)
		return
	case yaml.SequenceNode:
		// Earlier mappings win, so apply them last.
		for i := len(n.Content) - 1; i >= 0; i-- {
			m := d.resolve(n.Content[i])
			if m.Kind != yaml.MappingNode {
				d.l.add(d.at(m), prefix, "<< merges mappings, not "+describe(m))
				continue
			}
			d.mapping(m, v, prefix)
		}
		return
	}
	d.l.add(d.at(n), prefix, "<< merges a mapping or a list of mappings, not "+describe(n))
}

func (d *yamlDecoder) unknown(k *yaml.Node, t reflect.Type, prefix string) {
	key := joinKey(prefix, k.Value)
	msg := fmt.Sprintf("unknown key %q", key)
	var names []string
	for _, f := range fieldsOf(t) {
		names = append(names, f.name)
	}
	if before, after, ok := strings.Cut(k.Value, "."); ok {
		if _, known := settable(t)[k.Value]; known {
			msg += fmt.Sprintf(" (keys nest in YAML: write %s: and put %s: indented under it)", before, after)
			d.l.add(d.at(k), "", msg)
			return
		}
	}
	if s := suggest(k.Value, names); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", joinKey(prefix, s))
	} else if elsewhere := d.keysNamed(k.Value); len(elsewhere) == 1 {
		msg += fmt.Sprintf(" (did you mean %q? it belongs under %s)", elsewhere[0], elsewhere[0][:strings.LastIndex(elsewhere[0], ".")])
	}
	d.l.add(d.at(k), "", msg)
}

// decode reads node n into v, a field of kind k at dotted key.
func (d *yamlDecoder) decode(n *yaml.Node, v reflect.Value, k kind, key string) {
	n = d.resolve(n)
	if !d.spend(n) {
		return
	}
	if isNull(n) {
		v.SetZero()
		d.l.set(d.at(n), key)
		return
	}
	switch k {
	case kindStruct:
		if n.Kind != yaml.MappingNode {
			d.l.addErr(d.at(n), key, fmt.Errorf("want a mapping of keys, not %s", describe(n)))
			return
		}
		v.SetZero()
		d.mapping(n, v, key)
	case kindStructList:
		if n.Kind != yaml.SequenceNode {
			d.l.addErr(d.at(n), key, fmt.Errorf("want a list of mappings, not %s", describe(n)))
			return
		}
		v.SetZero()
		if len(n.Content) == 0 {
			d.l.set(d.at(n), key)
			return
		}
		list := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, list.Index(i), kindStruct, fmt.Sprintf("%s[%d]", key, i))
		}
		v.Set(list)
		d.l.set(d.at(n), key)
	case kindList:
		switch n.Kind {
		case yaml.ScalarNode:
			d.scalar(n, v, k, key)
		case yaml.SequenceNode:
			ek := kindOf(v.Type().Elem())
			list := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
			ok := true
			for i, item := range n.Content {
				item = d.resolve(item)
				if !d.spend(item) {
					return
				}
				ikey := fmt.Sprintf("%s[%d]", key, i)
				if item.Kind != yaml.ScalarNode || isNull(item) {
					d.l.add(d.at(item), ikey, "want a single value, not "+describe(item))
					ok = false
					continue
				}
				if err := setString(list.Index(i), ek, item.Value); err != nil {
					d.l.add(d.at(item), ikey, err.Error())
					ok = false
				}
			}
			if !ok {
				d.l.failed[key] = true
				return
			}
			if list.Len() == 0 {
				list = reflect.Zero(v.Type())
			}
			v.Set(list)
			d.l.set(d.at(n), key)
		default:
			d.l.addErr(d.at(n), key, fmt.Errorf("want a list or a comma-separated string, not %s", describe(n)))
		}
	case kindUnsupported:
		d.l.addErr(d.at(n), key, fmt.Errorf("has a type config cannot read (a bug in sessiond)"))
	default:
		if n.Kind != yaml.ScalarNode {
			d.l.addErr(d.at(n), key, fmt.Errorf("want a single value, not %s", describe(n)))
			return
		}
		d.scalar(n, v, k, key)
	}
}

func (d *yamlDecoder) scalar(n *yaml.Node, v reflect.Value, k kind, key string) {
	if err := setString(v, k, n.Value); err != nil {
		d.l.addErr(d.at(n), key, err)
		return
	}
	d.l.setValue(d.at(n), key, v, k, n.Value)
}

// suggest returns the candidate closest to s by edit distance, or "" when
// none is close.
func suggest(s string, candidates []string) string {
	best, bestD := "", 0
	for _, c := range slices.Sorted(slices.Values(candidates)) {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if limit := max(1, min(len(s), len(c))/3); d <= limit && (best == "" || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
