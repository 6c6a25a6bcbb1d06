package ratelimit

import (
	"testing"
	"time"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func TestCheckRecord_Burst(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rate Rate
	}{
		{Rate{N: 1, Per: time.Second}},
		{Rate{N: 5, Per: time.Minute}},
		{Rate{N: 100, Per: time.Hour}},
		{Rate{N: 3, Per: 10 * time.Second}}, // Interval truncates: 3.333…s
	}
	for _, tc := range tests {
		t.Run(tc.rate.String(), func(t *testing.T) {
			t.Parallel()
			r := tc.rate
			T := r.Interval()
			tau := r.Per - T
			var tat time.Time
			for i := range r.N {
				if wait := Check(tat, t0, r); wait != 0 {
					t.Fatalf("event %d of a burst of %d: Check = %v, want 0", i+1, r.N, wait)
				}
				tat = Record(tat, t0, r)
			}
			if want := t0.Add(time.Duration(r.N) * T); !tat.Equal(want) {
				t.Fatalf("TAT after burst = %v, want %v", tat, want)
			}
			// The (N+1)th is refused until one interval has passed (burst of N
			// fills the window; exactly T minus the truncation remainder).
			want := time.Duration(r.N)*T - tau
			if wait := Check(tat, t0, r); wait != want || wait <= 0 {
				t.Fatalf("Check after burst = %v, want %v", wait, want)
			}
			if wait := Check(tat, t0.Add(want-time.Nanosecond), r); wait != time.Nanosecond {
				t.Fatalf("Check 1ns before retry = %v, want 1ns", wait)
			}
			if wait := Check(tat, t0.Add(want), r); wait != 0 {
				t.Fatalf("Check at retry time = %v, want 0", wait)
			}
			// After one more event at the retry time it is blocked again for T.
			tat2 := Record(tat, t0.Add(want), r)
			if wait := Check(tat2, t0.Add(want), r); wait != T {
				t.Fatalf("Check after the recovered event = %v, want %v", wait, T)
			}
			// At TAT the key is as if new: a full burst again.
			if wait := Check(tat, tat, r); wait != 0 {
				t.Fatalf("Check at TAT = %v, want 0", wait)
			}
			if got := Record(tat, tat.Add(time.Hour), r); !got.Equal(tat.Add(time.Hour + T)) {
				t.Fatalf("Record long after TAT = %v, want now+T", got)
			}
		})
	}
}

func TestCheck_ExactRetryAfter(t *testing.T) {
	t.Parallel()
	r := Rate{N: 10, Per: time.Minute} // T = 6s, τ = 54s
	tests := []struct {
		tat  time.Time
		now  time.Time
		want time.Duration
	}{
		{time.Time{}, t0, 0},
		{t0.Add(-time.Second), t0, 0},
		{t0, t0, 0},
		{t0.Add(54 * time.Second), t0, 0},
		{t0.Add(54*time.Second + 1), t0, 1},
		{t0.Add(60 * time.Second), t0, 6 * time.Second},
		{t0.Add(10 * time.Minute), t0, 10*time.Minute - 54*time.Second},
	}
	for _, tc := range tests {
		if got := Check(tc.tat, tc.now, r); got != tc.want {
			t.Errorf("Check(now%+v) = %v, want %v", tc.tat.Sub(tc.now), got, tc.want)
		}
	}
	// Failing while blocked still counts: TAT keeps growing by T.
	if got := Record(t0.Add(time.Hour), t0, r); !got.Equal(t0.Add(time.Hour + 6*time.Second)) {
		t.Errorf("Record while blocked = %v", got)
	}
}

func TestCheckRecord_Unlimited(t *testing.T) {
	t.Parallel()
	for _, r := range []Rate{{}, {N: 0, Per: time.Minute}, {N: 5, Per: 0}, {N: 5, Per: -time.Second}, {N: 10, Per: 5}} {
		tat := t0.Add(time.Hour)
		if got := Check(tat, t0, r); got != 0 {
			t.Errorf("Check(%+v) = %v, want 0 (unlimited)", r, got)
		}
		if got := Record(tat, t0, r); !got.Equal(tat) {
			t.Errorf("Record(%+v) = %v, want TAT unchanged", r, got)
		}
	}
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Rate
		ok   bool
	}{
		{"10/1m", Rate{10, time.Minute}, true},
		{" 100/1h ", Rate{100, time.Hour}, true},
		{"5/30s", Rate{5, 30 * time.Second}, true},
		{"5/s", Rate{5, time.Second}, true},
		{"5/m", Rate{5, time.Minute}, true},
		{"5/h", Rate{5, time.Hour}, true},
		{"", Rate{}, false},
		{"10", Rate{}, false},
		{"0/1m", Rate{}, false},
		{"-1/1m", Rate{}, false},
		{"x/1m", Rate{}, false},
		{"10/0s", Rate{}, false},
		{"10/-1m", Rate{}, false},
		{"10/minute", Rate{}, false},
		{"10/1m/2", Rate{}, false},
	}
	for _, tc := range tests {
		got, err := ParseRate(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseRate(%q) = %+v, %v; want %+v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && err.Error()[:len("ratelimit: parse rate")] != "ratelimit: parse rate" {
			t.Errorf("ParseRate(%q) error %q lacks prefix", tc.in, err)
		}
		if tc.ok {
			back, err := ParseRate(got.String())
			if err != nil || back != got {
				t.Errorf("ParseRate(%q.String() = %q) = %+v, %v", tc.in, got.String(), back, err)
			}
		}
	}
	if s := (Rate{}).String(); s != "unlimited" {
		t.Errorf("Rate{}.String() = %q", s)
	}
	if iv := (Rate{N: 4, Per: time.Minute}).Interval(); iv != 15*time.Second {
		t.Errorf("Interval = %v", iv)
	}
}
