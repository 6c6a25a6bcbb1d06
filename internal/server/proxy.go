package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sessiond/sessiond/gateway"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/token"
)

// proxyState is what the handler decided about one proxied request, for
// the proxy's Rewrite.
type proxyState struct {
	id       *identity
	idh      idHeaders
	path     string // canonical path to send upstream (escaped)
	internal string // internal token, or ""
}

// proxyStateKey is the context key of a *proxyState.
type proxyStateKey struct{}

// proxyHandler serves every configured route prefix.
func (s *gatewayServer) proxyHandler(g *Gateway) http.Handler {
	proxies := make(map[*proxyRoute]*httputil.ReverseProxy, len(g.routes))
	buffers := &bufferPool{}
	for _, rt := range g.routes {
		proxies[rt] = s.newReverseProxy(rt, buffers)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, err := gateway.ParseTarget(r.RequestURI)
		var path, host string
		if err == nil {
			path, err = gateway.CleanPath(t.Path)
		}
		if err == nil {
			host, err = gateway.CleanHost(r.Host)
		}
		if err != nil {
			s.writeError(w, r, &apiError{Code: codeInvalidRequest, Message: "the request path or host is refused", cause: err})
			return
		}
		rt := g.route(host, path)
		if rt == nil {
			s.writeError(w, r, errNotFound)
			return
		}
		if len(rt.methods) > 0 && !containsFold(rt.methods, r.Method) {
			w.Header().Set("Allow", strings.Join(rt.methods, ", "))
			s.writeError(w, r, errf(codeMethodNotAllowed, "method %s is not allowed here", r.Method))
			return
		}
		ws, err := upgradeKind(r.Header)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		rule, _ := rt.policy.Match(gateway.Request{Method: r.Method, Host: host, Path: path})
		id, err := s.gatewayCheck(r, rule, r.Method, r.Host, path)
		if err != nil {
			if isUnauthorized(err) && wantsHTML(r) && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
				back := t.Path
				if t.Query != "" {
					back += "?" + t.Query
				}
				if loc, ok := s.loginRedirect(back); ok {
					w.Header().Set("Cache-Control", "no-store")
					w.Header().Set("Location", loc)
					w.WriteHeader(http.StatusFound)
					return
				}
			}
			s.writeError(w, r, err)
			return
		}
		st := &proxyState{id: id, path: path}
		if rt.strip {
			st.path = gateway.StripPrefix(path, rt.prefix)
		}
		if id != nil {
			if st.idh, err = identityValues(id); err != nil {
				s.writeError(w, r, err)
				return
			}
			if rt.jwt {
				if st.internal, err = s.internalToken(r.Context(), id, rt.aud); err != nil {
					s.writeError(w, r, err)
					return
				}
			}
		}
		ctx := context.WithValue(r.Context(), proxyStateKey{}, st)
		if ws || acceptsEventStream(r) {
			// Streams outlive the server's read and write timeouts, which
			// are meant for ordinary requests.
			rc := http.NewResponseController(w)
			_ = rc.SetReadDeadline(time.Time{})
			_ = rc.SetWriteDeadline(time.Time{})
		}
		if ws && id != nil {
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			defer cancel()
			go s.watchCredential(ctx, cancel, r.Clone(ctx), rule, g.recheck, rt.name)
		}
		proxies[rt].ServeHTTP(w, r.WithContext(ctx))
	})
}

// containsFold reports whether list holds s, ignoring case.
func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// acceptsEventStream reports a server-sent events request.
func acceptsEventStream(r *http.Request) bool {
	return strings.Contains(strings.ToLower(r.Header.Get("Accept")), "text/event-stream")
}

// upgradeKind checks a protocol upgrade: a WebSocket upgrade is forwarded
// (true); an h2c upgrade or any other protocol is refused, whatever the
// Connection header says, since a proxy that passes h2c on lets the client
// speak HTTP/2 past every check here.
func upgradeKind(h http.Header) (bool, error) {
	ups := h.Values("Upgrade")
	if len(ups) == 0 {
		return false, nil
	}
	for _, v := range ups {
		for p := range strings.SplitSeq(v, ",") {
			if name, _, _ := strings.Cut(strings.TrimSpace(p), "/"); strings.EqualFold(name, "h2c") {
				return false, errf(codeInvalidRequest, "h2c upgrades are not forwarded")
			}
		}
	}
	if !headerHasToken(h, "Connection", "upgrade") {
		return false, nil // not an upgrade; the proxy drops the hop-by-hop header
	}
	if len(ups) != 1 || !strings.EqualFold(strings.TrimSpace(ups[0]), "websocket") {
		return false, errf(codeInvalidRequest, "only WebSocket upgrades are forwarded")
	}
	return true, nil
}

// headerHasToken reports whether a comma-separated header of h holds
// token, ignoring case.
func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for p := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), token) {
				return true
			}
		}
	}
	return false
}

// watchCredential re-checks, every interval, the credential a WebSocket
// was opened with, and cancels the connection's context (which closes it
// both ways) once the credential no longer passes rule: the session was
// revoked or expired, the user disabled, the token expired or revoked, or a
// store cannot answer (fail closed).
func (s *gatewayServer) watchCredential(ctx context.Context, cancel context.CancelFunc, r *http.Request, rule gateway.Rule, every time.Duration, route string) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		id, err := s.gatewayAuthenticate(r, rule.Credentials)
		if err == nil && rule.Decide(subjectOf(id)) == gateway.Allow {
			continue
		}
		if ctx.Err() != nil {
			return
		}
		reason := "credential no longer valid"
		if err != nil && !isUnauthorized(err) {
			reason = "credential could not be checked"
		}
		s.audit(r, "gateway.websocket_closed", slog.String("route", route), slog.String("reason", reason), slog.Any("error", err))
		cancel()
		return
	}
}

// newReverseProxy builds the proxy of one route.
func (s *gatewayServer) newReverseProxy(rt *proxyRoute, buffers httputil.BufferPool) *httputil.ReverseProxy {
	tr := &http.Transport{
		Proxy:                 nil, // upstreams are reached directly, whatever HTTP_PROXY says
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: rt.timeout,
	}
	return &httputil.ReverseProxy{
		Transport:  tr,
		BufferPool: buffers,
		Rewrite: func(pr *httputil.ProxyRequest) {
			st, _ := pr.In.Context().Value(proxyStateKey{}).(*proxyState)
			s.rewrite(pr, rt, st)
		},
		ModifyResponse: func(res *http.Response) error {
			scrubResponse(res.Header)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.proxyError(w, r, rt, err)
		},
	}
}

// bufferPool recycles the proxies' copy buffers (32 KiB each), which would
// otherwise be allocated for every response.
type bufferPool struct{ p sync.Pool }

// Get returns a 32 KiB copy buffer.
func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

// Put returns a buffer to the pool.
func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// rewrite shapes the outbound request. It runs after ReverseProxy has
// removed the hop-by-hop headers, including those the client listed in
// Connection, so nothing set here can be stripped by the client.
func (s *gatewayServer) rewrite(pr *httputil.ProxyRequest, rt *proxyRoute, st *proxyState) {
	out := pr.Out
	scrubInbound(out.Header)
	stripSessionCookie(out.Header)
	if st == nil { // cannot happen: the handler always sets it
		st = &proxyState{path: "/"}
	}
	unescaped, err := url.PathUnescape(st.path)
	if err != nil { // cannot happen: canonical paths unescape
		unescaped = "/"
	}
	out.URL.Path, out.URL.RawPath = unescaped, st.path
	pr.SetURL(rt.upstream)
	pr.SetXForwarded()
	out.Header.Set("X-Forwarded-For", s.clientIP(pr.In))
	proto := "http"
	if s.isTLS(pr.In) {
		proto = "https"
	}
	out.Header.Set("X-Forwarded-Proto", proto)
	if id := requestID(pr.In.Context()); id != "" {
		out.Header.Set("X-Request-Id", id)
	}
	if st.id != nil {
		st.idh.set(out.Header)
	}
	if st.internal != "" {
		out.Header.Set(hdrInternalToken, st.internal)
	}
}

// scrubInbound removes every header a client could use to pose as the
// gateway: identity headers (gateway.IdentityHeader), forwarding headers
// and the internal token. Names are compared in lower case with "_" read
// as "-", since some frameworks (CGI, WSGI, Rack) fold X_User_Id into
// X-User-Id.
func scrubInbound(h http.Header) {
	for k := range h {
		if spoofable(k) {
			delete(h, k)
		}
	}
}

// spoofable reports a header a client must never set for the upstream
// (identity and forwarding headers, in any spelling).
func spoofable(k string) bool {
	if gateway.IdentityHeader(k) {
		return true
	}
	n := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
	for _, p := range [...]string{"x-forwarded-", "x-original-", "x-auth-request-"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	switch n {
	case "forwarded", "x-real-ip", "x-client-ip", "x-remote-user",
		"x-remote-addr", "x-request-id", "x-rewrite-url", "http2-settings":
		return true
	}
	return false
}

// isSessionCookie reports the names of sessiond's own cookie.
func isSessionCookie(name string) bool {
	switch name {
	case session.CookieName, session.CookieNameHost, session.CookieNameSecure:
		return true
	}
	return false
}

// stripSessionCookie removes sessiond's session cookie from the Cookie
// headers: upstream services get the identity, never the credential.
func stripSessionCookie(h http.Header) {
	lines, ok := h["Cookie"]
	if !ok {
		return
	}
	var kept []string
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ";") {
			part = strings.TrimSpace(part)
			name, _, _ := strings.Cut(part, "=")
			if part == "" || isSessionCookie(strings.TrimSpace(name)) {
				continue
			}
			kept = append(kept, part)
		}
	}
	if len(kept) == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = []string{strings.Join(kept, "; ")}
}

// scrubResponse keeps an upstream from setting sessiond's session cookie
// (fixation) or a second request ID.
func scrubResponse(h http.Header) {
	if lines, ok := h["Set-Cookie"]; ok {
		kept := lines[:0:0]
		for _, l := range lines {
			name, _, _ := strings.Cut(l, "=")
			if !isSessionCookie(strings.TrimSpace(name)) {
				kept = append(kept, l)
			}
		}
		if len(kept) == 0 {
			delete(h, "Set-Cookie")
		} else {
			h["Set-Cookie"] = kept
		}
	}
	delete(h, "X-Request-Id")
	delete(h, "X-Content-Type-Options")
}

// proxyError answers a failed upstream round trip in the contract's
// error form: 504 when the upstream did not answer in time, else 502.
// The code is "unavailable" (the contract has no gateway codes).
func (s *gatewayServer) proxyError(w http.ResponseWriter, r *http.Request, rt *proxyRoute, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away (or the session was revoked): nobody to answer
	}
	status, msg := http.StatusBadGateway, "the upstream service failed to answer"
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		status, msg = http.StatusGatewayTimeout, "the upstream service did not answer in time"
	}
	s.log.Error("gateway: upstream failed", slog.String("request_id", requestID(r.Context())),
		slog.String("route", rt.name), slog.Int("status", status), slog.Any("error", err))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": codeUnavailable, "message": msg})
}

// internalToken issues the short-lived token the proxy sends upstream:
// the caller's claims, aud the route, 60 s.
func (s *gatewayServer) internalToken(ctx context.Context, id *identity, aud string) (string, error) {
	t := s.tokens
	if t == nil {
		return "", errf(codeUnavailable, "internal tokens are not available")
	}
	now := t.now()
	c := token.Claims{
		Subject: id.User.ID, Audience: []string{aud}, IssuedAt: now, ExpiresAt: now.Add(internalTokenTTL),
		SessionID: id.sessionID(), Email: id.User.Email, Roles: id.User.Roles, OrgID: id.User.OrgID,
		Version: id.User.TokenVersion,
	}
	if id.Bearer != nil {
		c.ClientID, c.Scope = id.Bearer.ClientID, id.Bearer.Scope
	}
	return t.Issuer.Issue(ctx, c)
}
