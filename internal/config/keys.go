package config

import (
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// KeyInfo describes one configuration key, as [Keys] lists it.
type KeyInfo struct {
	// Key is the dotted key, e.g. "token.access_ttl". Fields of the
	// objects of a list are written "oidc.providers[].name".
	Key string
	// Type is "string", "secret", "bool", "int", "duration", "rate",
	// "CIDR", "object", "list of strings", "list of CIDRs" or
	// "list of objects".
	Type string
	// Default is the default as written in a config file, or a
	// description of a default derived from other keys
	// ("the value of base_url"); "" when the default is empty.
	Default string
	// Env is the environment variable that sets the key, or "" for keys
	// that can be set only in the config file.
	Env string
	// Secret is true for keys whose value is never shown.
	Secret bool
	// Zero says what a written 0 means for a number or duration key that
	// keeps it ("no leeway"); "" when 0 is refused, or the key is no
	// number or duration.
	Zero string
}

// Keys lists every configuration key (but not the nested objects that
// hold them: "token.access_ttl" but not "token"), in the order of the
// Config struct.
func Keys() []KeyInfo {
	var out []KeyInfo
	walk(reflect.TypeFor[Config](), "", []int{}, func(lf leaf) {
		f := lf.field
		if f.kind == kindStruct {
			return
		}
		ki := KeyInfo{Key: lf.key, Type: typeName(f.typ), Default: f.def, Secret: f.kind == kindSecret, Zero: f.zero}
		if ki.Default == "" {
			ki.Default = f.derived
		}
		if ki.Default == "" {
			switch f.kind {
			case kindBool:
				ki.Default = "false"
			case kindInt:
				ki.Default = "0"
			case kindDuration:
				ki.Default = "0s"
			}
		}
		if lf.path != nil && f.kind != kindStructList {
			ki.Env = envName(lf.key)
		}
		out = append(out, ki)
	})
	return out
}

func typeName(t reflect.Type) string {
	switch kindOf(t) {
	case kindString:
		return "string"
	case kindSecret:
		return "secret"
	case kindBool:
		return "bool"
	case kindInt:
		return "int"
	case kindDuration:
		return "duration"
	case kindRate:
		return "rate"
	case kindPrefix:
		return "CIDR"
	case kindStruct:
		return "object"
	case kindList, kindStructList:
		return "list of " + typeName(t.Elem()) + "s"
	}
	return strings.ToLower(t.Name())
}

// Redacted returns the configuration as nested maps keyed like the YAML
// file, for printing (sessiond serve --print-config) or JSON: durations and
// rates as strings ("15m", "10/1m"), lists as []any, secrets as "REDACTED"
// (or "" when unset) and the passwords in URLs as xxxxx.
func (c *Config) Redacted() map[string]any {
	return toMap(reflect.ValueOf(c).Elem())
}

func toMap(v reflect.Value) map[string]any {
	m := map[string]any{}
	for _, f := range fieldsOf(v.Type()) {
		fv := v.Field(f.index)
		switch f.kind {
		case kindStruct:
			m[f.name] = toMap(fv)
		case kindStructList:
			list := make([]any, fv.Len())
			for i := range list {
				list[i] = toMap(fv.Index(i))
			}
			m[f.name] = list
		default:
			m[f.name] = format(fv, f.kind)
		}
	}
	return m
}

// String returns the configuration as YAML, in the order of the Config
// struct, redacted as [Config.Redacted] is. Without secrets or URL
// passwords, loading the output gives back the same Config.
func (c *Config) String() string {
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(toNode(reflect.ValueOf(c).Elem())); err != nil {
		return "# config: " + err.Error() + "\n"
	}
	_ = enc.Close()
	return b.String()
}

func toNode(v reflect.Value) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for _, f := range fieldsOf(v.Type()) {
		fv := v.Field(f.index)
		var val *yaml.Node
		switch f.kind {
		case kindStruct:
			val = toNode(fv)
		case kindStructList:
			val = &yaml.Node{Kind: yaml.SequenceNode}
			for i := range fv.Len() {
				val.Content = append(val.Content, toNode(fv.Index(i)))
			}
		default:
			val = &yaml.Node{}
			if err := val.Encode(format(fv, f.kind)); err != nil {
				val = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ""}
			}
			if f.kind == kindList {
				val.Style = yaml.FlowStyle
			}
		}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: f.name}, val)
	}
	return m
}
