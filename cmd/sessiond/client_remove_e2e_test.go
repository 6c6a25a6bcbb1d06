package main_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// oauthCall posts form to the server with optional Basic client credentials
// (or, with bearer set, GETs path with it) and returns the status and JSON.
func oauthCall(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

func postClient(t *testing.T, u string, v url.Values, id, secret string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(id, secret)
	}
	return oauthCall(t, req)
}

func getBearer(t *testing.T, u, tok string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	return oauthCall(t, req)
}

// `sessiond client remove`, run while the server serves, ends what the
// client was issued: its access token is refused (on the running server,
// through the shared store) and its refresh family is gone from the store
// and from the user's devices.
func TestClientRemove_EndsItsTokensWhileServing(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	const pass, secret = "a long enough pass", "0123456789abcdefghijklmnopqrstuvwxyzABCD"
	if out, err := run(t, pass+"\n", "user", "add", "--data", data, "--email", "r@example.com", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	if out, err := run(t, secret+"\n", "client", "add", "--data", data, "--id", "app", "--secret-stdin",
		"--grant", "password", "--grant", "refresh_token", "--first-party"); err != nil {
		t.Fatalf("client add: %v\n%s", err, out)
	}
	p := serve(t, data)
	grant := url.Values{"grant_type": {"password"}, "username": {"r@example.com"}, "password": {pass}}
	code, tok := postClient(t, p.url+"/v1/token", grant, "app", secret)
	if code != 200 {
		t.Fatalf("password grant as app: %d %v", code, tok)
	}
	access, refreshTok := tok["access_token"].(string), tok["refresh_token"].(string)
	// The same user signs in through the built-in client too: that family
	// must outlive app's.
	code, own := postClient(t, p.url+"/v1/token", grant, "", "")
	if code != 200 {
		t.Fatalf("password grant: %d %v", code, own)
	}
	if code, m := getBearer(t, p.url+"/v1/sessions", own["access_token"].(string)); code != 200 || len(m["sessions"].([]any)) != 2 {
		t.Fatalf("devices before: %d %v", code, m)
	}

	out, err := run(t, "", "client", "remove", "--data", data, "--id", "app")
	if err != nil || !strings.Contains(out, "ended 1 refresh token families") {
		t.Fatalf("client remove while serving: %v\n%s", err, out)
	}

	// The server sees the other process's write within its change poll
	// (5 ms): waiting up to 5 s is a liveness bound, not a timing.
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, _ := getBearer(t, p.url+"/v1/whoami", access)
		if code == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("access token of a removed client still accepted: %d", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, m := getBearer(t, p.url+"/v1/sessions", own["access_token"].(string))
	if code != 200 || len(m["sessions"].([]any)) != 1 {
		t.Fatalf("devices after: the removed client's family is still listed: %d %v", code, m)
	}
	if code, m := postClient(t, p.url+"/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshTok}}, "app", secret); code < 400 || code >= 500 {
		t.Fatalf("refresh with a removed client's token: %d %v", code, m)
	}
	if code, m := postClient(t, p.url+"/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {own["refresh_token"].(string)}}, "", ""); code != 200 {
		t.Fatalf("the built-in client's family: %d %v", code, m)
	}
}
