package web

import (
	"strconv"
	"time"
)

// RelativeTime says how long before now t was, for people: "just now",
// "5 minutes ago", "1 hour ago", "yesterday", "12 days ago", and past 60 days
// the date ("on 2 Jan 2026"). A t after now (clock skew between nodes) is
// "just now"; a zero t is "never".
func RelativeTime(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	case d < 48*time.Hour:
		return "yesterday"
	case d < 60*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day") + " ago"
	}
	return "on " + t.UTC().Format("2 Jan 2006")
}

func plural(n int, unit string) string {
	s := strconv.Itoa(n) + " " + unit
	if n != 1 {
		s += "s"
	}
	return s
}
