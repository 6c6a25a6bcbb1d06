package session_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/session"
)

func TestAssurance_CombiningFactors(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	t1 := t0.Add(time.Minute)
	tests := []struct {
		name     string
		factors  []session.Factor
		aal      session.AAL
		amr      []string
		aal2Time time.Time
	}{
		{"password alone is aal1", []session.Factor{session.FactorPassword}, session.AAL1, []string{"pwd"}, time.Time{}},
		{"password then otp is aal2", []session.Factor{session.FactorPassword, session.FactorOTP}, session.AAL2, []string{"pwd", "otp", "mfa"}, t1},
		{"password then security key without verification", []session.Factor{session.FactorPassword, session.FactorKey(true, false)}, session.AAL2, []string{"pwd", "hwk", "mfa"}, t1},
		{"passkey with user verification alone", []session.Factor{session.FactorKey(false, true)}, session.AAL2, []string{"swk", "user", "mfa"}, t0},
		{"security key without verification alone", []session.Factor{session.FactorKey(true, false)}, session.AAL1, []string{"hwk"}, time.Time{}},
		{"otp alone is one factor", []session.Factor{session.FactorOTP}, session.AAL1, []string{"otp"}, time.Time{}},
		{"federated alone", []session.Factor{session.FactorFederated(nil)}, session.AAL1, []string{"fed"}, time.Time{}},
		{"federated with upstream mfa", []session.Factor{session.FactorFederated([]string{"pwd", "mfa"})}, session.AAL2, []string{"fed", "pwd", "mfa"}, t0},
		{"federated then local otp", []session.Factor{session.FactorFederated(nil), session.FactorOTP}, session.AAL2, []string{"fed", "otp", "mfa"}, t1},
		{"password twice stays aal1", []session.Factor{session.FactorPassword, session.FactorPassword}, session.AAL1, []string{"pwd"}, time.Time{}},
		{"password again after aal2 keeps the step-up time", []session.Factor{session.FactorPassword, session.FactorOTP, session.FactorPassword}, session.AAL2, []string{"pwd", "otp", "mfa"}, t1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a session.Assurance
			for i, f := range tc.factors {
				a = a.Add(t0.Add(time.Duration(i)*time.Minute), f)
			}
			if a.AAL != tc.aal || !slices.Equal(a.AMR, tc.amr) || !a.AAL2Time.Equal(tc.aal2Time) {
				t.Fatalf("got aal %d amr %v aal2_time %v; want aal %d amr %v aal2_time %v", a.AAL, a.AMR, a.AAL2Time, tc.aal, tc.amr, tc.aal2Time)
			}
			if want := t0.Add(time.Duration(len(tc.factors)-1) * time.Minute); !a.AuthTime.Equal(want) {
				t.Fatalf("auth_time %v, want %v", a.AuthTime, want)
			}
			if want := map[session.AAL]string{1: "aal1", 2: "aal2"}[tc.aal]; a.ACR() != want {
				t.Fatalf("acr %q, want %q", a.ACR(), want)
			}
		})
	}
}

func TestAssurance_AddDoesNotChangeReceiver(t *testing.T) {
	now := time.Now()
	a := session.Assurance{}.Add(now, session.FactorPassword)
	a.AMR = slices.Grow(a.AMR, 8) // spare capacity an append could write into
	b := a.Add(now, session.FactorOTP)
	if !slices.Equal(a.AMR, []string{"pwd"}) || a.AAL != session.AAL1 {
		t.Fatalf("receiver changed: %+v", a)
	}
	if !slices.Equal(b.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("result: %+v", b)
	}
}

func TestAssurance_Satisfies(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	aal1 := session.Assurance{}.Add(now.Add(-time.Hour), session.FactorPassword)
	aal2 := aal1.Add(now.Add(-20*time.Minute), session.FactorOTP)
	reauthed := aal2.Add(now.Add(-time.Minute), session.FactorPassword) // fresh auth_time, old aal2_time
	tests := []struct {
		name   string
		a      session.Assurance
		level  session.AAL
		maxAge time.Duration
		want   bool
	}{
		{"nothing asked of nobody", session.Assurance{}, 0, 0, true},
		{"unauthenticated is not aal1", session.Assurance{}, session.AAL1, 0, false},
		{"aal1 any age", aal1, session.AAL1, 0, true},
		{"aal1 too old", aal1, session.AAL1, 30 * time.Minute, false},
		{"aal1 fresh enough", aal1, session.AAL1, time.Hour, true},
		{"aal1 is not aal2", aal1, session.AAL2, 0, false},
		{"aal2 any age", aal2, session.AAL2, 0, true},
		{"aal2 within 30 minutes", aal2, session.AAL2, 30 * time.Minute, true},
		{"aal2 stale for 10 minutes", aal2, session.AAL2, 10 * time.Minute, false},
		{"aal2 satisfies aal1 by auth_time", aal2, session.AAL1, 30 * time.Minute, true},
		{"a password again does not refresh aal2", reauthed, session.AAL2, 10 * time.Minute, false},
		{"a password again refreshes aal1", reauthed, session.AAL1, 10 * time.Minute, true},
		{"aal2 claimed without its time", session.Assurance{AAL: session.AAL2, AuthTime: now}, session.AAL2, time.Minute, false},
		{"future time (skew) counts as fresh", session.Assurance{}.Add(now.Add(time.Minute), session.FactorKey(true, true)), session.AAL2, time.Minute, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.Satisfies(tc.level, tc.maxAge, now); got != tc.want {
				t.Fatalf("Satisfies(%d, %v) = %v, want %v (%+v)", tc.level, tc.maxAge, got, tc.want, tc.a)
			}
		})
	}
}

func TestParseACR(t *testing.T) {
	for _, l := range []session.AAL{session.AAL1, session.AAL2} {
		got, err := session.ParseACR(l.ACR())
		if err != nil || got != l {
			t.Fatalf("ParseACR(%q) = %d, %v", l.ACR(), got, err)
		}
	}
	for _, bad := range []string{"", "AAL2", "aal3", "urn:mace:incommon:iap:silver", "0"} {
		if _, err := session.ParseACR(bad); !errors.Is(err, session.ErrUnknownACR) {
			t.Fatalf("ParseACR(%q): want ErrUnknownACR, got %v", bad, err)
		}
	}
}

func TestFactorFederated_DropsOddUpstreamValues(t *testing.T) {
	up := []string{"pwd", "pwd", "bad\r\nX-User-Id: 1", "", strings.Repeat("a", 33), "otp"}
	for i := range 20 {
		up = append(up, "v"+strings.Repeat("x", i))
	}
	f := session.FactorFederated(up)
	if f.AMR[0] != "fed" || f.AMR[1] != "pwd" || f.AMR[2] != "otp" || len(f.AMR) != 9 {
		t.Fatalf("amr %q", f.AMR)
	}
	for _, v := range f.AMR {
		if strings.ContainsAny(v, "\r\n: ") {
			t.Fatalf("odd value kept: %q", v)
		}
	}
}
