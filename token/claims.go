package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sessiond/sessiond/session"
)

// Claims are the claims of a sessiond token (RFC 9068 access-token profile,
// plus the OIDC and RFC 8693 members sessiond uses). The JSON names are in
// the field comments. Zero values are omitted when encoding. Times are whole
// seconds (NumericDate); encoding drops sub-second parts.
type Claims struct {
	Issuer    string    // iss
	Subject   string    // sub: the user ID, or the client ID for client_credentials
	Audience  []string  // aud: one string when it has one member, else an array
	ExpiresAt time.Time // exp
	IssuedAt  time.Time // iat
	NotBefore time.Time // nbf
	ID        string    // jti: revocation keys on it
	SessionID string    // sid
	ClientID  string    // client_id
	Email     string    // email
	Roles     []string  // roles
	OrgID     string    // org_id
	Version   int64     // ver: the user's token version; absent means 0
	Scope     string    // scope: space-separated
	Act       *Actor    // act: the acting party (RFC 8693 §4.1)
	// ACR (acr), AMR (amr) and AuthTime (auth_time) say how strongly and
	// when the user authenticated (OIDC Core §2, RFC 9470): acr "aal1" or
	// "aal2", amr RFC 8176 values. SetAssurance fills them and Assurance
	// reads them back.
	ACR      string    // acr
	AMR      []string  // amr
	AuthTime time.Time // auth_time
	// Extra holds any other claims. Encoding refuses an Extra name that is
	// one of the names above; decoding puts unknown claims here, numbers as
	// json.Number.
	Extra map[string]any
}

// Actor is the RFC 8693 "act" claim: who acts on behalf of the subject, with
// the chain of earlier actors nested in Act.
type Actor struct {
	// Subject (sub) identifies the actor; required.
	Subject string `json:"sub"`
	// ClientID (client_id) is the actor's OAuth client, if any.
	ClientID string `json:"client_id,omitempty"`
	// Act is the actor before this one, if the token was exchanged again.
	Act *Actor `json:"act,omitempty"`
}

// UnmarshalJSON reads an actor, matching member names exactly; sub is
// required, other members than sub, client_id and act are ignored.
func (a *Actor) UnmarshalJSON(data []byte) error {
	m, err := decodeObject(data)
	if err != nil {
		return err
	}
	var out Actor
	if out.Subject, err = jsonString(m["sub"]); err != nil || out.Subject == "" {
		return errors.New("act: sub must be a non-empty string")
	}
	if raw, ok := m["client_id"]; ok {
		if out.ClientID, err = jsonString(raw); err != nil {
			return fmt.Errorf("act: client_id: %w", err)
		}
	}
	if raw, ok := m["act"]; ok {
		out.Act = new(Actor)
		if err := out.Act.UnmarshalJSON(raw); err != nil {
			return err
		}
	}
	*a = out
	return nil
}

// registered are the claim names that have a Claims field.
var registered = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "iat": true, "nbf": true, "jti": true,
	"sid": true, "client_id": true, "email": true, "roles": true, "org_id": true, "ver": true,
	"scope": true, "act": true, "acr": true, "amr": true, "auth_time": true,
}

// SetAssurance puts a in c: acr from its level, amr and auth_time. The zero
// Assurance clears them.
func (c *Claims) SetAssurance(a session.Assurance) {
	c.ACR, c.AMR, c.AuthTime = a.ACR(), a.AMR, a.AuthTime
}

// Assurance returns what c says of the user's authentication: the level of
// its acr ("aal1", "aal2"; 0 for none or another value), amr, and
// auth_time. A token carries no aal2_time: with acr "aal2", AAL2Time is
// auth_time, the time of the last authentication, which is never before the
// step-up (so a max-age check on it is never more lenient than on the
// session).
func (c Claims) Assurance() session.Assurance {
	a := session.Assurance{AMR: c.AMR, AuthTime: c.AuthTime}
	a.AAL, _ = session.ParseACR(c.ACR)
	if a.AAL >= session.AAL2 {
		a.AAL2Time = c.AuthTime
	}
	return a
}

// MarshalJSON encodes c with the names in the field comments; zero fields are
// left out. An Extra member named like a field is an error.
func (c Claims) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, 16+len(c.Extra))
	for name, v := range c.Extra {
		if registered[name] {
			return nil, fmt.Errorf("token: claims: extra claim %q is a registered claim", name)
		}
		m[name] = v
	}
	setString := func(name, v string) {
		if v != "" {
			m[name] = v
		}
	}
	setTime := func(name string, t time.Time) {
		if !t.IsZero() {
			m[name] = t.Unix()
		}
	}
	setString("iss", c.Issuer)
	setString("sub", c.Subject)
	switch len(c.Audience) {
	case 0:
	case 1:
		m["aud"] = c.Audience[0]
	default:
		m["aud"] = c.Audience
	}
	setTime("exp", c.ExpiresAt)
	setTime("iat", c.IssuedAt)
	setTime("nbf", c.NotBefore)
	setString("jti", c.ID)
	setString("sid", c.SessionID)
	setString("client_id", c.ClientID)
	setString("email", c.Email)
	if c.Roles != nil {
		m["roles"] = c.Roles
	}
	setString("org_id", c.OrgID)
	if c.Version != 0 {
		m["ver"] = c.Version
	}
	setString("scope", c.Scope)
	if c.Act != nil {
		m["act"] = c.Act
	}
	setString("acr", c.ACR)
	if c.AMR != nil {
		m["amr"] = c.AMR
	}
	setTime("auth_time", c.AuthTime)
	return json.Marshal(m)
}

// UnmarshalJSON decodes claims strictly: one JSON object, valid UTF-8, no
// duplicate names at any depth, names matched exactly (case-sensitive), every
// registered claim of its JSON type (dates must be non-negative numbers,
// "ver" an integer, "aud" a string or an array of strings). It does not
// check that any claim is present; Verifier does.
func (c *Claims) UnmarshalJSON(data []byte) error {
	m, err := decodeObject(data)
	if err != nil {
		return fmt.Errorf("claims: %w", err)
	}
	var out Claims
	for name, raw := range m {
		var err error
		switch name {
		case "iss":
			out.Issuer, err = jsonString(raw)
		case "sub":
			out.Subject, err = jsonString(raw)
		case "aud":
			out.Audience, err = audience(raw)
		case "exp":
			out.ExpiresAt, err = numericDate(raw)
		case "iat":
			out.IssuedAt, err = numericDate(raw)
		case "nbf":
			out.NotBefore, err = numericDate(raw)
		case "jti":
			out.ID, err = jsonString(raw)
		case "sid":
			out.SessionID, err = jsonString(raw)
		case "client_id":
			out.ClientID, err = jsonString(raw)
		case "email":
			out.Email, err = jsonString(raw)
		case "roles":
			out.Roles, err = stringArray(raw)
		case "org_id":
			out.OrgID, err = jsonString(raw)
		case "ver":
			out.Version, err = strconv.ParseInt(string(raw), 10, 64)
		case "scope":
			out.Scope, err = jsonString(raw)
		case "act":
			out.Act = new(Actor)
			err = out.Act.UnmarshalJSON(raw)
		case "acr":
			out.ACR, err = jsonString(raw)
		case "amr":
			out.AMR, err = stringArray(raw)
		case "auth_time":
			out.AuthTime, err = numericDate(raw)
		default:
			var v any
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			if err = dec.Decode(&v); err == nil {
				if out.Extra == nil {
					out.Extra = make(map[string]any)
				}
				out.Extra[name] = v
			}
		}
		if err != nil {
			return fmt.Errorf("claims: %q: %w", truncate(name, 64), err)
		}
	}
	*c = out
	return nil
}

// jsonString decodes a JSON string (not null, not a number).
func jsonString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", errors.New("not a string")
	}
	if plainString(raw) {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

func stringArray(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || raw[0] != '[' {
		return nil, errors.New("not an array")
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		s, err := jsonString(e)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// audience decodes "aud": a non-empty string, or a non-empty array of
// non-empty strings.
func audience(raw json.RawMessage) ([]string, error) {
	var aud []string
	if len(raw) > 0 && raw[0] == '"' {
		s, err := jsonString(raw)
		if err != nil {
			return nil, err
		}
		aud = []string{s}
	} else {
		var err error
		if aud, err = stringArray(raw); err != nil {
			return nil, err
		}
	}
	if len(aud) == 0 {
		return nil, errors.New("empty")
	}
	for _, a := range aud {
		if a == "" {
			return nil, errors.New("empty member")
		}
	}
	return aud, nil
}

// maxNumericDate is 9999-12-31T23:59:59Z.
const maxNumericDate = 253402300799

// numericDate decodes an RFC 7519 NumericDate: a JSON number (not a string),
// non-negative, up to the year 9999; fractions are kept.
func numericDate(raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || raw[0] < '0' || raw[0] > '9' {
		return time.Time{}, errors.New("not a non-negative number")
	}
	if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		if n > maxNumericDate {
			return time.Time{}, errors.New("out of range")
		}
		return time.Unix(n, 0), nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, errors.New("out of range")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// plainString reports whether raw is a quoted string without escapes or
// control characters, whose text is then exactly the bytes inside the quotes
// (raw is valid UTF-8: it comes from a checked token).
func plainString(raw []byte) bool {
	if len(raw) < 2 || raw[len(raw)-1] != '"' || !utf8.Valid(raw) {
		return false
	}
	for _, c := range raw[1 : len(raw)-1] {
		if c == '"' || c == '\\' || c < 0x20 {
			return false
		}
	}
	return true
}
