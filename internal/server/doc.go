// Package server is sessiond's HTTP API: it wires the library packages
// (session, account, token, gateway, oidc) to the endpoints of the API contract,
// and adds only what belongs to HTTP — routing, JSON, error bodies, CSRF,
// request IDs, metrics and timeouts. It knows no store backend: internal/app
// opens the stores and hands them in as Options.
package server
