// Package server is sessiond's HTTP API: it wires the library packages
// (session, account, token, gateway, oidc) to the endpoints of the API contract,
// and adds only what belongs to HTTP — routing, JSON, error bodies, CSRF,
// request IDs, metrics and timeouts. It knows no store backend: internal/app
// opens the stores and hands them in as Options.
//
// Server is the front door (middleware, routing, 404/405); each feature is
// a room of its own type holding only what it uses: api (the session and
// account JSON API), pages (HTML), oauthServer (the token endpoint with its
// grants table, revocation, introspection, JWKS, discovery), opServer
// (sessiond as an OpenID Provider), ssoServer (sign-in with external
// providers) and gatewayServer (forward auth and the reverse proxy). They
// share authn (credentials), signouts (ending sessions) and base (logs,
// metrics, origin, trusted proxies, and one error answer per audience:
// JSON, OAuth, HTML). docs/ARCHITECTURE.md follows a request through them.
package server
