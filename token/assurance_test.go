package token_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/token"
)

// TestClaims_Assurance: acr, amr and auth_time encode under their JSON names,
// decode strictly (wrong JSON types refused) and cannot be smuggled in
// through Extra.
func TestClaims_Assurance(t *testing.T) {
	t.Parallel()
	at := time.Unix(1_750_000_000, 0).UTC()
	var c token.Claims
	c.SetAssurance(session.Assurance{}.Add(at, session.FactorPassword).Add(at, session.FactorOTP))
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"acr":"aal2","amr":["pwd","otp","mfa"],"auth_time":1750000000}` {
		t.Fatalf("encoded %s", b)
	}
	var back token.Claims
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.ACR != "aal2" || !slices.Equal(back.AMR, c.AMR) || !back.AuthTime.Equal(at) {
		t.Fatalf("decoded %+v", back)
	}
	for _, bad := range []string{`{"acr":2}`, `{"amr":"pwd"}`, `{"amr":[1]}`, `{"auth_time":"1"}`, `{"auth_time":-1}`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
	if _, err := json.Marshal(token.Claims{Extra: map[string]any{"acr": "aal2"}}); err == nil {
		t.Error("acr in Extra was encoded")
	}
	if a := (token.Claims{ACR: "gold", AuthTime: at}).Assurance(); a.AAL != 0 {
		t.Errorf("unknown acr read as aal %d", a.AAL)
	}
}
