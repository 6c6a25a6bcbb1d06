package server

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// base is what every room of the server shares: the logs, the metrics,
// the same-origin check, sessiond's own address, who may speak for the
// client (trusted proxies) and the answers to errors (errors.go). Each room
// embeds it and adds only the parts it uses itself.
type base struct {
	log, auditLog *slog.Logger
	metrics       *metrics
	// csrf is the one cross-origin check (Sec-Fetch-Site, Origin) of every
	// cookie-authenticated unsafe request and every form.
	csrf *http.CrossOriginProtection
	// origin is sessiond's own address, from Options.BaseURL.
	origin origin
	// proxies may set X-Forwarded-For and X-Forwarded-Proto.
	proxies trustedProxies
	// allowedHosts are the hosts a return address may name besides origin.
	allowedHosts []string
	// mfa is the second-factor room (mfa.go); nil when second factors are
	// off.
	mfa secondFactors
}

// audit records a security event with the request's ID and client address.
// attrs must never hold a secret.
func (b *base) audit(r *http.Request, event string, attrs ...any) {
	attrs = append([]any{slog.String("event", event), slog.String("request_id", requestID(r.Context())),
		slog.String("ip", b.clientIP(r))}, attrs...)
	b.auditLog.InfoContext(r.Context(), "audit", attrs...)
}

// clientIP is the caller's address; see trustedProxies.clientIP.
func (b *base) clientIP(r *http.Request) string { return b.proxies.clientIP(r) }

// isTLS reports whether r reached the deployment over TLS; see
// trustedProxies.isTLS.
func (b *base) isTLS(r *http.Request) bool { return b.proxies.isTLS(r) }

// returnTo is the return address raw names, as origin.returnTo allows and
// normalises it, or "" when it is empty or refused.
func (b *base) returnTo(raw string) string {
	if raw == "" {
		return ""
	}
	to, _ := b.origin.returnTo(raw, b.allowedHosts)
	return to
}

// orAccount is ret, or the account page when there is none.
func (b *base) orAccount(ret string) string {
	if ret == "" {
		return b.origin.url("/account")
	}
	return ret
}

// trustedProxies are the peers (Options.TrustedProxies) whose
// X-Forwarded-For and X-Forwarded-Proto are believed. The zero value
// trusts nobody.
type trustedProxies []netip.Prefix

// clientIP is the caller's address: the connection's peer, or — only when
// the peer is a trusted proxy — the right-most address in X-Forwarded-For
// that is not itself a trusted proxy.
func (p trustedProxies) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !p.contains(peer) {
		return peer.String()
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return peer.String()
			}
			a = a.Unmap()
			if !p.contains(a) {
				return a.String()
			}
			peer = a
		}
	}
	return peer.String()
}

// contains reports whether a is a trusted proxy.
func (p trustedProxies) contains(a netip.Addr) bool {
	for _, pre := range p {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

// peerTrusted reports whether r's peer (the connection, not a header) is a
// trusted proxy.
func (p trustedProxies) peerTrusted(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err == nil && p.contains(a.Unmap())
}

// isTLS reports whether the request reached the deployment over TLS:
// directly, or through a trusted proxy that says so in X-Forwarded-Proto.
func (p trustedProxies) isTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return p.peerTrusted(r) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}
