// Package server is sessiond's HTTP API: it wires the library packages
// (session, account, token, the stores) to the endpoints of the API contract,
// and adds only what belongs to HTTP — routing, JSON, error bodies, CSRF,
// request IDs, metrics, timeouts and graceful shutdown. It is the only
// package that knows every store backend.
package server
