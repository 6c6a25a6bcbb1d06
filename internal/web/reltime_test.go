package web

import (
	"testing"
	"time"
)

func TestRelativeTime(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		ago  time.Duration
		want string
	}{
		{-time.Hour, "just now"},
		{0, "just now"},
		{59 * time.Second, "just now"},
		{time.Minute, "1 minute ago"},
		{5*time.Minute + 30*time.Second, "5 minutes ago"},
		{59 * time.Minute, "59 minutes ago"},
		{time.Hour, "1 hour ago"},
		{23 * time.Hour, "23 hours ago"},
		{30 * time.Hour, "yesterday"},
		{48 * time.Hour, "2 days ago"},
		{59 * 24 * time.Hour, "59 days ago"},
		{60 * 24 * time.Hour, "on 9 Jan 2026"},
	}
	for _, tt := range tests {
		if got := RelativeTime(now.Add(-tt.ago), now); got != tt.want {
			t.Errorf("RelativeTime(now-%v) = %q, want %q", tt.ago, got, tt.want)
		}
	}
	if got := RelativeTime(time.Time{}, now); got != "never" {
		t.Errorf("zero time: %q", got)
	}
}
