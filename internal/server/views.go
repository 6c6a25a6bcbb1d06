package server

import (
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/session"
)

// userView is a user as the API shows it.
type userView struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	// EmailVerified is whether the address was proven (a mailed link
	// followed, or an administrator said so).
	EmailVerified bool     `json:"email_verified"`
	Roles         []string `json:"roles"`
	OrgID         string   `json:"org_id"`
	Disabled      bool     `json:"disabled,omitempty"`
}

// viewUser is u as the API shows it.
func viewUser(u *account.User) userView {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	return userView{ID: u.ID, Email: u.Email, EmailVerified: u.EmailVerified, Roles: roles, OrgID: u.OrgID, Disabled: u.Disabled}
}

// currentSessionView is the caller's own session or bearer sign-in, with
// how strongly its holder authenticated.
type currentSessionView struct {
	ID        string   `json:"id"`
	Via       string   `json:"via"`
	CreatedAt string   `json:"created_at"`
	ExpiresAt string   `json:"expires_at"`
	AAL       int      `json:"aal,omitempty"`
	AMR       []string `json:"amr,omitempty"`
	AuthTime  string   `json:"auth_time,omitempty"`
	AAL2Time  string   `json:"aal2_time,omitempty"`
}

// viewCurrent is the caller's cookie session s.
func viewCurrent(s *session.Session) currentSessionView {
	return currentSessionView{ID: s.ID, Via: "cookie", CreatedAt: rfc3339(s.CreatedAt), ExpiresAt: rfc3339(s.ExpiresAt)}.with(s.Assurance)
}

// with is v showing assurance a.
func (v currentSessionView) with(a session.Assurance) currentSessionView {
	v.AAL, v.AMR, v.AuthTime, v.AAL2Time = int(a.AAL), a.AMR, rfc3339(a.AuthTime), rfc3339(a.AAL2Time)
	return v
}

// deviceView is one cookie session or refresh family in a listing.
type deviceView struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	CreatedAt  string `json:"created_at"`
	LastSeenAt string `json:"last_seen_at"`
	ExpiresAt  string `json:"expires_at"`
	IP         string `json:"ip"`
	UserAgent  string `json:"user_agent"`
	Current    bool   `json:"current"`
}

// rfc3339 formats t in UTC; the zero time is "".
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// viewDevice is session s in a listing; current marks the caller's.
func viewDevice(s *session.Session, current string) deviceView {
	return deviceView{
		ID: s.ID, Kind: "cookie", CreatedAt: rfc3339(s.CreatedAt), LastSeenAt: rfc3339(s.LastSeenAt),
		ExpiresAt: rfc3339(s.Deadline()), IP: s.IP, UserAgent: s.UserAgent, Current: s.ID == current,
	}
}
