package verifier

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/token"
)

// TestVerify_ExposesAssurance: acr, amr and auth_time that the issuer put in
// an access token come out of Verify, and Claims.Assurance reads them.
func TestVerify_ExposesAssurance(t *testing.T) {
	t.Parallel()
	e := newIssuerEnv(t, token.EdDSA)
	v := e.verifier(t, nil)
	a := session.Assurance{}.Add(t0.Add(-time.Hour), session.FactorPassword).Add(t0.Add(-time.Minute), session.FactorOTP)
	var c token.Claims
	c.SetAssurance(a)
	got := mustVerify(t, v, e.issue(t, c))
	if got.ACR != "aal2" || !slices.Equal(got.AMR, []string{"pwd", "otp", "mfa"}) || !got.AuthTime.Equal(t0.Add(-time.Minute)) {
		t.Fatalf("verified claims: acr %q amr %v auth_time %v", got.ACR, got.AMR, got.AuthTime)
	}
	if as := got.Assurance(); as.AAL != session.AAL2 || !as.AAL2Time.Equal(t0.Add(-time.Minute)) {
		t.Fatalf("Assurance() = %+v", as)
	}
	if plain := mustVerify(t, v, e.issue(t, token.Claims{})); plain.ACR != "" || plain.AMR != nil || !plain.AuthTime.IsZero() {
		t.Fatalf("token issued without an assurance has %q %v %v", plain.ACR, plain.AMR, plain.AuthTime)
	}
}

// TestRequireAAL_RFC9470: a route that needs aal2 within 10 minutes refuses
// an aal1 token and a stale aal2 one with 401 and the RFC 9470 challenge,
// and serves a fresh aal2 token.
func TestRequireAAL_RFC9470(t *testing.T) {
	t.Parallel()
	e := newIssuerEnv(t, token.EdDSA)
	v := e.verifier(t, nil)
	srv := httptest.NewServer(v.Middleware(v.RequireAAL(session.AAL2, 10*time.Minute)(whoami)))
	t.Cleanup(srv.Close)
	withAssurance := func(a session.Assurance) string {
		var c token.Claims
		c.SetAssurance(a)
		return e.issue(t, c)
	}
	pwd := session.Assurance{}.Add(t0.Add(-time.Minute), session.FactorPassword)
	const challenge = `Bearer error="insufficient_user_authentication", acr_values="aal2", max_age=600`
	for _, tc := range []struct {
		name, tok string
		status    int
	}{
		{"aal1", withAssurance(pwd), http.StatusUnauthorized},
		{"no assurance", e.issue(t, token.Claims{}), http.StatusUnauthorized},
		{"stale aal2", withAssurance(pwd.Add(t0.Add(-11*time.Minute), session.FactorOTP)), http.StatusUnauthorized},
		{"fresh aal2", withAssurance(pwd.Add(t0.Add(-9*time.Minute), session.FactorOTP)), http.StatusOK},
		{"passkey", withAssurance(session.Assurance{}.Add(t0, session.FactorKey(true, true))), http.StatusOK},
	} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("Authorization", "Bearer "+tc.tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
			continue
		}
		if tc.status == http.StatusUnauthorized {
			if got := resp.Header.Get("WWW-Authenticate"); got != challenge || body.Error != "insufficient_user_authentication" {
				t.Errorf("%s: WWW-Authenticate %q, error %q; want %q", tc.name, got, body.Error, challenge)
			}
		}
	}
}
