package session

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// AAL is an authenticator assurance level (NIST SP 800-63B): how strongly the
// holder of a session proved who they are. The zero value means "not
// authenticated".
type AAL int

// The assurance levels sessiond knows.
const (
	// AAL1: one factor (a password, or an upstream sign-in).
	AAL1 AAL = 1
	// AAL2: two factors of different kinds (password + one-time code or
	// security key), or a passkey with user verification on its own.
	AAL2 AAL = 2
)

// ACR returns the level as an OpenID Connect acr value: "aal1" or "aal2"
// (the highest level sessiond knows for anything higher); "" for the zero
// level.
func (l AAL) ACR() string {
	switch {
	case l <= 0:
		return ""
	case l == AAL1:
		return "aal1"
	default:
		return "aal2"
	}
}

// ErrUnknownACR is returned by ParseACR for an acr value sessiond does not
// issue.
var ErrUnknownACR = errors.New("unknown acr value")

// ParseACR turns an acr value ("aal1", "aal2") into its level. Anything else
// wraps ErrUnknownACR.
func ParseACR(acr string) (AAL, error) {
	switch acr {
	case "aal1":
		return AAL1, nil
	case "aal2":
		return AAL2, nil
	}
	return 0, fmt.Errorf("session: parse acr %q: %w", acr, ErrUnknownACR)
}

// Authentication method reference values (RFC 8176) that sessiond issues in
// the amr claim and keeps on a session.
const (
	// AMRPassword: a password (knowledge).
	AMRPassword = "pwd"
	// AMROTP: a one-time code: TOTP, or a single-use recovery code
	// (possession).
	AMROTP = "otp"
	// AMRHardwareKey: a key bound to hardware, a security key or a
	// device-bound passkey (possession).
	AMRHardwareKey = "hwk"
	// AMRSoftwareKey: a key held in software, such as a synced passkey
	// (possession).
	AMRSoftwareKey = "swk"
	// AMRUser: the authenticator verified the user (WebAuthn user
	// verification: a PIN or a biometric on the device). RFC 8176 names it a
	// user presence test; sessiond claims it only when verification was done.
	AMRUser = "user"
	// AMRMultiFactor: more than one factor was used.
	AMRMultiFactor = "mfa"
	// AMRFederated: the user signed in at an upstream identity provider.
	AMRFederated = "fed"
)

// Factor is one verified authentication method, as the amr values it adds to
// a session. Use the predefined factors and constructors rather than building
// one by hand.
type Factor struct {
	// AMR holds the values this factor contributes. A factor that is on its
	// own multi-factor (a passkey with user verification) carries
	// AMRMultiFactor.
	AMR []string
}

// The single-method factors.
var (
	// FactorPassword is a verified password.
	FactorPassword = Factor{AMR: []string{AMRPassword}}
	// FactorOTP is a verified TOTP code or recovery code.
	FactorOTP = Factor{AMR: []string{AMROTP}}
)

// FactorKey is a verified WebAuthn assertion: hwk for a device-bound
// credential, swk for one that can be backed up (synced). With user
// verification it is multi-factor on its own (amr user and mfa, so AAL2);
// without it, it is a possession factor like a one-time code.
func FactorKey(deviceBound, userVerified bool) Factor {
	kind := AMRSoftwareKey
	if deviceBound {
		kind = AMRHardwareKey
	}
	if userVerified {
		return Factor{AMR: []string{kind, AMRUser, AMRMultiFactor}}
	}
	return Factor{AMR: []string{kind}}
}

// maxUpstreamAMR bounds how many upstream amr values a federated factor keeps.
const maxUpstreamAMR = 8

// FactorFederated is a sign-in at an upstream OpenID Provider: fed plus the
// upstream's amr values (at most 8, each 1 to 32 characters of [A-Za-z0-9._-];
// others are dropped, so nothing odd reaches a token or a header). Passing the
// upstream's values means trusting them: an upstream amr of ["pwd","otp"] or
// ["mfa"] makes the session AAL2. Pass nil to count the sign-in as one factor.
func FactorFederated(upstream []string) Factor {
	f := Factor{AMR: []string{AMRFederated}}
	for _, v := range upstream {
		if len(f.AMR) > maxUpstreamAMR {
			break
		}
		if validAMR(v) && !slices.Contains(f.AMR, v) {
			f.AMR = append(f.AMR, v)
		}
	}
	return f
}

func validAMR(v string) bool {
	if len(v) == 0 || len(v) > 32 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Assurance is how strongly, and when, the holder of a session, refresh
// family or access token authenticated. The zero value is "not
// authenticated". It is a small value: methods return a new one and never
// change the receiver's AMR slice.
type Assurance struct {
	// AAL is the level reached.
	AAL AAL `json:"aal,omitempty"`
	// AMR lists the methods used (RFC 8176 values), in the order first used,
	// without duplicates; it includes "mfa" once two factors were combined.
	AMR []string `json:"amr,omitempty"`
	// AuthTime is the last time any factor was verified (OIDC auth_time).
	AuthTime time.Time `json:"auth_time,omitzero"`
	// AAL2Time is the last time a factor beyond a password was verified
	// while reaching AAL2: what "a second factor within N minutes" checks.
	// Zero if the session never reached AAL2.
	AAL2Time time.Time `json:"aal2_time,omitzero"`
}

// Add returns the assurance after f was verified at now. The methods of the
// session accumulate: two kinds of factor (a password or upstream sign-in,
// and something held: a one-time code or a key) make AAL2 and add "mfa"; a
// factor that is multi-factor on its own (FactorKey with user verification)
// makes AAL2 alone. AuthTime becomes now; AAL2Time becomes now only when f is
// not a knowledge factor and the result is AAL2, so typing the password again
// never refreshes a step-up.
//
// For example, FactorPassword then FactorOTP gives aal2 with amr
// [pwd otp mfa].
func (a Assurance) Add(now time.Time, f Factor) Assurance {
	amr := slices.Clone(a.AMR)
	for _, v := range f.AMR {
		if !slices.Contains(amr, v) {
			amr = append(amr, v)
		}
	}
	level := levelOf(amr)
	if level >= AAL2 && !slices.Contains(amr, AMRMultiFactor) {
		amr = append(amr, AMRMultiFactor)
	}
	out := Assurance{AAL: max(a.AAL, level), AMR: amr, AuthTime: now, AAL2Time: a.AAL2Time}
	if out.AAL >= AAL2 && heldFactor(f.AMR) {
		out.AAL2Time = now
	}
	return out
}

// levelOf is the level a set of amr values proves.
func levelOf(amr []string) AAL {
	if len(amr) == 0 {
		return 0
	}
	if slices.Contains(amr, AMRMultiFactor) {
		return AAL2
	}
	know := slices.Contains(amr, AMRPassword) || slices.Contains(amr, AMRFederated)
	if know && heldFactor(amr) {
		return AAL2
	}
	return AAL1
}

// heldFactor reports whether amr includes something the user holds, or is
// multi-factor on its own.
func heldFactor(amr []string) bool {
	for _, v := range amr {
		switch v {
		case AMROTP, AMRHardwareKey, AMRSoftwareKey, AMRMultiFactor:
			return true
		}
	}
	return false
}

// ACR is the acr value for the level reached ("aal1", "aal2", or "").
func (a Assurance) ACR() string { return a.AAL.ACR() }

// Satisfies reports whether the assurance meets level, with the
// authentication of that level no older than maxAge at now (maxAge 0: any
// age). AAL1 ages by AuthTime, AAL2 by AAL2Time. A level of 0 or less asks for
// nothing beyond maxAge. A time in the future (clock skew between nodes)
// counts as fresh.
func (a Assurance) Satisfies(level AAL, maxAge time.Duration, now time.Time) bool {
	if a.AAL < level {
		return false
	}
	at := a.AuthTime
	if level >= AAL2 {
		at = a.AAL2Time
	}
	if maxAge <= 0 {
		return level <= 0 || !at.IsZero()
	}
	return !at.IsZero() && now.Sub(at) <= maxAge
}

// Clone returns a copy of a that shares no memory with it.
func (a Assurance) Clone() Assurance {
	a.AMR = slices.Clone(a.AMR)
	return a
}

// Equal reports whether a and b are the same assurance (times compared with
// time.Time.Equal).
func (a Assurance) Equal(b Assurance) bool {
	return a.AAL == b.AAL && slices.Equal(a.AMR, b.AMR) && a.AuthTime.Equal(b.AuthTime) && a.AAL2Time.Equal(b.AAL2Time)
}

// OneFactor is the assurance of a sign-in with one factor at the time at:
// AAL1 with amr [fed] when method names an upstream sign-in ("oidc:<name>"),
// [pwd] otherwise. The Manager gives it to sessions created without an
// assurance and to records stored before sessiond kept one, so that a step-up
// from them (Add with a one-time code or a key) reaches AAL2.
func OneFactor(method string, at time.Time) Assurance {
	f := FactorPassword
	if strings.HasPrefix(method, "oidc:") {
		f = FactorFederated(nil)
	}
	return Assurance{}.Add(at, f)
}
