package config

import (
	"encoding"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/internal/redact"
	"github.com/sessiond/sessiond/ratelimit"
)

// kind classifies a field's type for loading and printing.
type kind int

const (
	kindUnsupported kind = iota
	kindString
	kindSecret
	kindBool
	kindInt
	kindDuration
	kindRate
	kindPrefix
	kindText       // implements encoding.TextUnmarshaler
	kindList       // slice of one of the kinds above
	kindStruct     // nested keys
	kindStructList // slice of structs: YAML only
)

var (
	durationType    = reflect.TypeFor[Duration]()
	stdDurationType = reflect.TypeFor[time.Duration]()
	secretType      = reflect.TypeFor[Secret]()
	rateType        = reflect.TypeFor[ratelimit.Rate]()
	prefixType      = reflect.TypeFor[netip.Prefix]()
	unmarshalType   = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func kindOf(t reflect.Type) kind {
	switch t {
	case stdDurationType:
		return kindUnsupported // use Duration, which reads "15m"
	case durationType:
		return kindDuration
	case secretType:
		return kindSecret
	case rateType:
		return kindRate
	case prefixType:
		return kindPrefix
	}
	if reflect.PointerTo(t).Implements(unmarshalType) {
		return kindText
	}
	switch t.Kind() {
	case reflect.String:
		return kindString
	case reflect.Bool:
		return kindBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return kindInt
	case reflect.Struct:
		return kindStruct
	case reflect.Slice:
		switch kindOf(t.Elem()) {
		case kindStruct:
			return kindStructList
		case kindUnsupported, kindList, kindStructList:
			return kindUnsupported
		}
		return kindList
	}
	return kindUnsupported
}

// field is one struct field that is a key.
type field struct {
	name    string // yaml name
	index   int
	typ     reflect.Type
	kind    kind
	def     string // `default` tag
	derived string // `derived` tag: description of a computed default
	zero    string // `zero` tag: what a written 0 means; empty: 0 is refused
}

// fieldsOf lists the keys of struct type t in declaration order. Exported
// fields without a yaml tag are keyed by their lower-cased name, as yaml
// does; `yaml:"-"` and unexported fields are skipped.
func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		out = append(out, field{
			name: name, index: i, typ: sf.Type, kind: kindOf(sf.Type),
			def: sf.Tag.Get("default"), derived: sf.Tag.Get("derived"), zero: sf.Tag.Get("zero"),
		})
	}
	return out
}

func fieldByName(t reflect.Type, name string) (field, bool) {
	for _, f := range fieldsOf(t) {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}

// leaf is a key with its path from the root struct, as walk reports it.
type leaf struct {
	key   string // dotted; fields of list elements as "a.b[].c"
	path  []int  // field indexes from the root; nil below a list
	field field
}

// walk calls fn for every key of struct type t, depth first in declaration
// order, including struct keys themselves (before their children) and the
// keys of list elements (with "[]" in the key and a nil path).
func walk(t reflect.Type, prefix string, path []int, fn func(leaf)) {
	for _, f := range fieldsOf(t) {
		key := joinKey(prefix, f.name)
		var p []int
		if path != nil {
			p = append(append([]int(nil), path...), f.index)
		}
		fn(leaf{key: key, path: p, field: f})
		switch f.kind {
		case kindStruct:
			walk(f.typ, key, p, fn)
		case kindStructList:
			walk(f.typ.Elem(), key+"[]", nil, fn)
		}
	}
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// envName is the environment variable of a dotted key.
func envName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// errValue is a parse failure whose message already quotes (or withholds)
// the value and says what to write instead.
type errValue struct{ msg string }

func (e *errValue) Error() string { return e.msg }

func badValue(format string, args ...any) error { return &errValue{fmt.Sprintf(format, args...)} }

// setString parses s into v, a leaf of kind k. Lists are comma-separated.
// Empty s is the zero value (the default). Errors say what to write
// instead; they quote s except for secrets.
func setString(v reflect.Value, k kind, s string) error {
	if k != kindSecret {
		s = strings.TrimSpace(s)
	}
	if s == "" {
		v.SetZero()
		return nil
	}
	switch k {
	case kindString, kindSecret:
		v.SetString(s)
	case kindBool:
		b, ok := parseBool(s)
		if !ok {
			return badValue("%q is not a boolean (use true or false)", s)
		}
		v.SetBool(b)
	case kindInt:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return badValue("%q is not a whole number", s)
		}
		v.SetInt(n)
	case kindDuration:
		d, err := parseDuration(s)
		switch {
		case errors.Is(err, errNegativeDuration):
			return badValue("%q is negative (durations are positive; leave the key out for its default)", s)
		case err != nil:
			return badValue("%q is not a duration (use Go syntax like 15m or 1h30m)", s)
		}
		v.Set(reflect.ValueOf(Duration{d}))
	case kindRate:
		r, err := ratelimit.ParseRate(s)
		if err != nil {
			return badValue("%q is not a rate (write N/duration with N > 0, e.g. 10/1m)", s)
		}
		v.Set(reflect.ValueOf(r))
	case kindPrefix:
		p, err := parsePrefix(s)
		if err != nil {
			return badValue("%q is not an IP address or CIDR (e.g. 10.0.0.0/8 or 192.0.2.1)", s)
		}
		v.Set(reflect.ValueOf(p))
	case kindText:
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			return badValue("%q is not valid: %v", s, err)
		}
	case kindList:
		parts := splitList(s)
		if len(parts) == 0 {
			v.SetZero()
			return nil
		}
		ek := kindOf(v.Type().Elem())
		list := reflect.MakeSlice(v.Type(), len(parts), len(parts))
		var errs []error
		for i, p := range parts {
			if err := setString(list.Index(i), ek, p); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		v.Set(list)
	default:
		return badValue("cannot be set from a single value; use the config file")
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "yes", "on", "1":
		return true, true
	case "false", "no", "off", "0":
		return false, true
	}
	return false, false
}

// parsePrefix reads a CIDR or a single address (as a /32 or /128), masked.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, errors.New("zone not allowed")
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// applyStatic sets every zero field of struct v (recursively, list
// elements included) that has a `default` tag to that default.
func applyStatic(v reflect.Value) {
	for _, f := range fieldsOf(v.Type()) {
		fv := v.Field(f.index)
		switch f.kind {
		case kindStruct:
			applyStatic(fv)
			continue
		case kindStructList:
			for i := range fv.Len() {
				applyStatic(fv.Index(i))
			}
			continue
		}
		if f.def == "" || !isZero(fv) {
			continue
		}
		if err := setString(fv, f.kind, f.def); err != nil {
			// A bad default tag is a programming error that
			// TestDefaultTagsParse catches.
			panic(fmt.Sprintf("config: bad default tag %q on %s: %v", f.def, v.Type().Field(f.index).Name, err))
		}
	}
}

func isZero(v reflect.Value) bool {
	if v.Kind() == reflect.Slice {
		return v.Len() == 0
	}
	return v.IsZero()
}

// format returns the printable form of leaf v: a string, bool, int64 or a
// list of those. Secrets print as REDACTED and URL passwords as xxxxx.
func format(v reflect.Value, k kind) any {
	switch k {
	case kindString:
		return redact.URL(v.String())
	case kindSecret:
		return Secret(v.String()).String()
	case kindBool:
		return v.Bool()
	case kindInt:
		return v.Int()
	case kindDuration:
		return v.Interface().(Duration).String()
	case kindRate:
		return formatRate(v.Interface().(ratelimit.Rate))
	case kindPrefix:
		p := v.Interface().(netip.Prefix)
		if !p.IsValid() {
			return ""
		}
		return p.String()
	case kindText:
		if m, ok := v.Interface().(encoding.TextMarshaler); ok {
			if b, err := m.MarshalText(); err == nil {
				return string(b)
			}
		}
		return fmt.Sprint(v.Interface())
	case kindList:
		ek := kindOf(v.Type().Elem())
		out := make([]any, v.Len())
		for i := range out {
			out[i] = format(v.Index(i), ek)
		}
		return out
	}
	return nil
}

func formatRate(r ratelimit.Rate) string {
	if r.N == 0 {
		return ""
	}
	return strconv.Itoa(r.N) + "/" + formatDuration(r.Per)
}
