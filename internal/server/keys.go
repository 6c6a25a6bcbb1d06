package server

import (
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/token"
)

// handleJWKS: GET /.well-known/jwks.json.
func (s *oauthServer) handleJWKS(w http.ResponseWriter, r *http.Request) {
	b, err := s.tokens.Keys.JWKS()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	maxAge := s.tokens.JWKSMaxAge
	if maxAge <= 0 {
		maxAge = 5 * time.Minute
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(maxAge.Seconds())))
	_, _ = w.Write(b)
}

// handleDiscovery: GET /.well-known/openid-configuration.
func (s *oauthServer) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	t := s.tokens
	base := strings.TrimSuffix(t.IssuerURL, "/")
	doc := map[string]any{
		"issuer":                                        t.IssuerURL,
		"jwks_uri":                                      base + "/.well-known/jwks.json",
		"token_endpoint":                                base + "/v1/token",
		"revocation_endpoint":                           base + "/v1/revoke",
		"introspection_endpoint":                        base + "/v1/introspect",
		"grant_types_supported":                         s.grantTypes(),
		"token_endpoint_auth_methods_supported":         []string{"client_secret_basic", "client_secret_post", "none"},
		"revocation_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"id_token_signing_alg_values_supported":         []string{string(s.signingAlg())},
		"claims_supported":                              []string{"iss", "sub", "aud", "exp", "iat", "jti", "sid", "client_id", "email", "roles", "org_id", "ver", "scope", "act"},
	}
	for k, v := range s.discoveryExtra {
		doc[k] = v
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, doc)
}

// grantTypes lists the grants table: password and refresh_token first, then
// the others sorted.
func (s *oauthServer) grantTypes() []string {
	g := []string{grantPassword, grantRefresh}
	var more []string
	for name := range s.grants {
		if name != grantPassword && name != grantRefresh {
			more = append(more, name)
		}
	}
	slices.Sort(more)
	return append(g, more...)
}

// signingAlg is the current signing key's algorithm, for discovery.
func (s *oauthServer) signingAlg() token.Alg {
	if k, err := s.tokens.Keys.Signer(); err == nil {
		return k.Alg
	}
	return token.EdDSA
}

// handleRotateKeys: POST /v1/admin/keys/rotate.
func (s *oauthServer) handleRotateKeys(w http.ResponseWriter, r *http.Request, id *identity) {
	kid, err := s.tokens.Keys.Rotate(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit(r, "keys.rotated", slog.String("admin_id", id.User.ID), slog.String("kid", kid))
	writeJSON(w, http.StatusOK, map[string]string{"kid": kid})
}
