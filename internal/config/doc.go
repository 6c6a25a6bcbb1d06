// Package config is sessiond's typed configuration: one [Config] struct,
// loaded once at start by [Load] from a YAML file, SESSIOND_* environment
// variables and command-line flags (in that order of precedence, over the
// defaults), then completed with defaults and validated, so that a wrong key
// or value stops the server with a message that names the key and says what
// to fix.
//
// Every key is a struct field with a `yaml` tag; its default is the field's
// `default` tag (or, when it derives from other keys, computed by
// [Config.ApplyDefaults] and described by a `derived` tag). The zero value of
// a field means its documented default. Environment variables, flags,
// unknown-key detection, [Keys] and [Config.Redacted] all work by reflection
// over the struct, so adding a key is adding a field: name it, tag it, give
// it a default, add a rule to validate.go if it needs one, and add a row to
// docs/configuration.md (a test fails until you do).
//
// Supported field types: string, [Secret] (never printed), bool (its default
// must be false), signed integers, [Duration], ratelimit.Rate, netip.Prefix,
// any type implementing encoding.TextUnmarshaler, lists of those, nested
// structs, and lists of structs (YAML only).
//
// A loaded *Config is read-only by convention and safe for concurrent reads.
package config
