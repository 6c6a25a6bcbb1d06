// Package session is sessiond's stateful-session core: the Session type, the
// store interfaces every backend implements, the Manager that creates, loads,
// renews and ends sessions, and net/http middleware that puts the caller's
// session in the request context.
//
// A session is named by an opaque token of 256 random bits that only the
// client holds (in a cookie). The server keeps SHA-256 of the token and a
// public ID derived from that hash, so a leaked store holds nothing that
// authenticates, and the public ID (shown in device lists and passed to
// upstream services) can never be turned back into a token.
//
// The package imports only the standard library; a test enforces it.
package session
