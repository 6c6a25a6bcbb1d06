package server_test

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/config"
	"github.com/sessiond/sessiond/internal/server"
)

// gwEnvOptions are newEnv's options plus the gateway's.
type gwEnvOptions struct {
	envOptions
	gateway config.Gateway
	allowed []string      // AllowedRedirectHosts
	baseURL string        // Options.BaseURL
	recheck time.Duration // GatewayOptions.Recheck
}

// newGatewayEnv is newEnv served by a server built with a gateway: the same
// stores, clock and services.
func newGatewayEnv(t *testing.T, opt gwEnvOptions) *env {
	t.Helper()
	e := newEnv(t, opt.envOptions)
	gw, err := server.NewGateway(opt.gateway, server.GatewayOptions{Recheck: opt.recheck})
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.New(server.Options{Sessions: e.sessions, Accounts: e.accounts, Users: e.store, Tokens: e.tokens,
		Ready: opt.ready, TrustedProxies: opt.trusted, AllowedRedirectHosts: opt.allowed, Gateway: gw, BaseURL: opt.baseURL})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	e.srv = hs
	return e
}

// echoed is what the echo upstream saw.
type echoed struct {
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	RawPath string              `json:"raw_path"`
	URI     string              `json:"uri"`
	Host    string              `json:"host"`
	Header  map[string][]string `json:"header"`
}

// newEchoUpstream is an upstream service that answers every request with
// the method, URI, host and headers it received, as JSON. Some paths
// (below any prefix) do more:
//
//	.../slow     answers after 2 s
//	.../sse      streams three events 100 ms apart
//	.../ws       accepts a WebSocket upgrade and echoes bytes
//	.../cookie   also sets a sessiond cookie and its own
func newEchoUpstream(t testing.TB) *httptest.Server {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/slow"):
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
				return
			}
		case strings.HasSuffix(r.URL.Path, "/sse"):
			w.Header().Set("Content-Type", "text/event-stream")
			for i := range 3 {
				_, _ = io.WriteString(w, "data: event "+string(rune('0'+i))+"\n\n")
				w.(http.Flusher).Flush()
				time.Sleep(100 * time.Millisecond)
			}
			return
		case strings.HasSuffix(r.URL.Path, "/ws"):
			serveWebSocketEcho(w, r)
			return
		case strings.HasSuffix(r.URL.Path, "/cookie"):
			w.Header().Add("Set-Cookie", "sessiond=planted; Path=/")
			w.Header().Add("Set-Cookie", "__Host-sessiond=planted; Path=/; Secure")
			w.Header().Add("Set-Cookie", "app=1; Path=/")
			w.Header().Set("X-Request-Id", "upstream-made-this-up")
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echoed{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath, URI: r.RequestURI,
			Host: r.Host, Header: r.Header})
	}))
	t.Cleanup(hs.Close)
	return hs
}

// serveWebSocketEcho completes a WebSocket handshake and then echoes raw
// bytes (no framing: the proxy copies bytes and does not care).
func serveWebSocketEcho(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "want a websocket upgrade", http.StatusBadRequest)
		return
	}
	h := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	id, _ := json.Marshal(r.Header.Get("X-User-Id"))
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(h[:]) + "\r\n\r\n" + "hello " + string(id) + "\n")
	_ = brw.Flush()
	for {
		line, err := brw.ReadString('\n')
		if err != nil {
			return
		}
		if _, err := brw.WriteString(line); err != nil {
			return
		}
		if err := brw.Flush(); err != nil {
			return
		}
	}
}

// readLine reads one line with a deadline.
func readLine(t *testing.T, br *bufio.Reader, conn interface{ SetReadDeadline(time.Time) error }, d time.Duration) (string, error) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(d))
	return br.ReadString('\n')
}

// echo decodes what the echo upstream saw.
func echo(t *testing.T, r *resp) echoed {
	t.Helper()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", r.Request.Method, r.Request.URL, r.StatusCode, r.body)
	}
	var e echoed
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("echo body %q: %v", r.body, err)
	}
	return e
}

// identityIn returns the values of every identity-like header the upstream
// saw, whatever the spelling (X-User-Id, X_User_Id, x-user-id ...).
func (e echoed) identityIn() map[string][]string {
	out := map[string][]string{}
	for k, v := range e.Header {
		n := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
		if strings.HasPrefix(n, "x-user-") || n == "x-org-id" || n == "x-session-id" || n == "x-internal-token" {
			out[n] = append(out[n], v...)
		}
	}
	return out
}
