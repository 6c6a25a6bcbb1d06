package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that reads and writes Go duration syntax
// ("15m", "1h30m", "10s"). A whole number of days may lead ("30d", "1d12h"),
// as a convenience: a day is 24h. Negative durations are refused. The zero
// Duration means the key's default.
type Duration struct {
	time.Duration
}

// String formats d compactly: "15m", "720h", "1h30m", "0s".
func (d Duration) String() string { return formatDuration(d.Duration) }

// MarshalText implements encoding.TextMarshaler with the form of String.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; see [Duration] for the
// syntax. Empty text is the zero Duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

var (
	errNotDuration      = errors.New("not a duration")
	errNegativeDuration = errors.New("negative duration")
)

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err == nil {
			const maxDays = int64(1<<63-1) / int64(24*time.Hour)
			if n < 0 || n > maxDays {
				return 0, errNotDuration
			}
			days = time.Duration(n) * 24 * time.Hour
			s = s[i+1:]
			if s == "" {
				return days, nil
			}
			if s[0] == '-' || s[0] == '+' {
				return 0, errNotDuration
			}
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, errNotDuration
	}
	if v < 0 {
		return 0, errNegativeDuration
	}
	if days > 0 && v > time.Duration(1<<63-1)-days {
		return 0, errNotDuration
	}
	return days + v, nil
}

// formatDuration writes d like time.Duration.String without the trailing
// zero units: "15m" rather than "15m0s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// Secret is a string that must not be shown: printing it with fmt, logging
// it with log/slog or marshalling it as text or JSON gives "REDACTED" (or ""
// when it is empty). Reveal returns the value itself. Config errors about a
// Secret key never include the value.
type Secret string

const redacted = "REDACTED"

// Reveal returns the secret value. Call it only where the value is used.
func (s Secret) Reveal() string { return string(s) }

// String returns "REDACTED", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString is String, so %#v does not reveal the value either.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format implements fmt.Formatter: every verb prints String.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' || (verb == 'v' && f.Flag('#')) {
		_, _ = io.WriteString(f, strconv.Quote(s.String()))
		return
	}
	_, _ = io.WriteString(f, s.String())
}

// LogValue implements slog.LogValuer: logs show String.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler with String, so JSON and
// YAML output of a Config does not reveal the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
