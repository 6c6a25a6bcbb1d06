package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// listKeys runs `keys list --json` and returns the kids by state.
func listKeys(t *testing.T, data string) map[string][]string {
	t.Helper()
	out, _, err := runCLI(t, data, "", "keys", "list", "--json")
	if err != nil {
		t.Fatalf("keys list: %v", err)
	}
	var got struct{ Keys []keyJSON }
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("keys list --json: %v: %s", err, out)
	}
	by := map[string][]string{}
	for _, k := range got.Keys {
		by[k.State] = append(by[k.State], k.KID)
	}
	return by
}

func TestKeysRetire(t *testing.T) {
	data := t.TempDir()
	before := listKeys(t, data)
	if len(before["signing"]) != 1 {
		t.Fatalf("keys before: %v", before)
	}
	leaked := before["signing"][0]
	if _, _, err := runCLI(t, data, "", "keys", "retire", leaked); err == nil || !strings.Contains(err.Error(), "--now") {
		t.Fatalf("retire without --now: %v", err)
	}
	out, _, err := runCLI(t, data, "", "keys", "retire", leaked, "--now", "--json")
	if err != nil {
		t.Fatalf("retire: %v", err)
	}
	var res struct{ Retired, Kid string }
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Retired != leaked || res.Kid == "" || res.Kid == leaked {
		t.Fatalf("retire --json: %q (%v)", out, err)
	}
	after := listKeys(t, data)
	if len(after["signing"]) != 1 || after["signing"][0] != res.Kid || len(after["verifying"])+len(after["next"]) != 0 {
		t.Fatalf("keys after retiring %s: %v, want only %s signing", leaked, after, res.Kid)
	}
	if _, _, err := runCLI(t, data, "", "keys", "retire", leaked, "--now"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("retiring an unknown kid: %v", err)
	}
}
