package redisstore

import (
	"strconv"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/refresh"
	"github.com/sessiond/sessiond/session"
)

// TestLuaDeadline_MatchesGo: the deadline rule the scripts apply inside
// Redis (luaDeadline) is session.DeadlineOf, case by case, through a real
// redis-server: on the bare rule, on encoded session records and on encoded
// family records (so the offsets the scripts read agree with the encoders).
// touchScript and advanceScript set the key's expiry with the same
// deadline_of (TestKeyLayout and the refresh tests check that expiry).
func TestLuaDeadline_MatchesGo(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	base := time.UnixMilli(1_750_000_000_000).UTC()
	tests := []struct {
		name      string
		idle, exp time.Time
	}{
		{"idle first", base.Add(time.Minute), base.Add(time.Hour)},
		{"absolute first", base.Add(2 * time.Hour), base.Add(time.Hour)},
		{"equal", base.Add(time.Hour), base.Add(time.Hour)},
		{"one ms apart, idle first", base.Add(time.Hour - time.Millisecond), base.Add(time.Hour)},
		{"one ms apart, absolute first", base.Add(time.Hour + time.Millisecond), base.Add(time.Hour)},
		{"no idle", time.Time{}, base.Add(time.Hour)},
		{"no absolute", base.Add(time.Minute), time.Time{}},
		{"neither", time.Time{}, time.Time{}},
		{"first ms of the epoch", time.UnixMilli(1).UTC(), base},
		{"far future", base.Add(100 * 365 * 24 * time.Hour), base.Add(200 * 365 * 24 * time.Hour)},
		{"in the past", base.Add(-time.Hour), base.Add(-time.Minute)},
	}
	eval := func(t *testing.T, body string, args ...string) int64 {
		t.Helper()
		out := r.Do(t, append([]string{"EVAL", luaDeadline + body, "0"}, args...)...)
		n, err := strconv.ParseInt(out, 10, 64)
		if err != nil {
			t.Fatalf("script returned %q", out)
		}
		return n
	}
	itoa := func(v int64) string { return strconv.FormatInt(v, 10) }
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := ms(session.DeadlineOf(tc.idle, tc.exp))
			if got := eval(t, "return deadline_of(tonumber(ARGV[1]), tonumber(ARGV[2]))", itoa(ms(tc.idle)), itoa(ms(tc.exp))); got != want {
				t.Errorf("Lua deadline_of = %d, Go DeadlineOf = %d", got, want)
			}

			s := &session.Session{ID: "s1", UserID: "alice", CreatedAt: base, LastSeenAt: base, IdleExpiresAt: tc.idle, ExpiresAt: tc.exp}
			rec, err := encodeRecord(s)
			if err != nil {
				t.Fatal(err)
			}
			if got := eval(t, "return deadline(ARGV[1])", string(rec)); got != ms(s.Deadline()) {
				t.Errorf("Lua deadline(session record) = %d, Session.Deadline = %d", got, ms(s.Deadline()))
			}

			f := &refresh.Family{ID: "f1", UserID: "alice", ClientID: "app", CreatedAt: base, LastUsedAt: base, IdleExpiresAt: tc.idle, ExpiresAt: tc.exp}
			fam, err := encodeFamily(f)
			if err != nil {
				t.Fatal(err)
			}
			if got := eval(t, "return deadline(ARGV[1])", string(fam)); got != ms(f.Deadline()) {
				t.Errorf("Lua deadline(family record) = %d, Family.Deadline = %d", got, ms(f.Deadline()))
			}
			if got, want := familyDeadlineMS(f), max(ms(f.Deadline()), 1); got != want {
				t.Errorf("familyDeadlineMS = %d, want %d", got, want)
			}
		})
	}
}
