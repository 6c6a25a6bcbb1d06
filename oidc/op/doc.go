// Package op makes sessiond an OpenID Provider for the applications
// of a deployment (OpenID Connect Core 1.0, authorization code flow only):
// authorization-request validation with exact redirect_uri matching and
// mandatory PKCE S256, single-use authorization codes stored only as a hash
// (a replayed code revokes what its first redemption issued), ID tokens
// signed with the deployment's key set, RP-initiated logout hints, and
// back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0) with
// their delivery.
//
// It is written on top of the token package (signing and strict
// verification), the client package (registered clients) and the refresh
// package (what a code replay revokes). Persistence is behind three small
// interfaces — CodeStore, LoginStore and ConsentStore, together Store —
// implemented by store/memstore, store/sqlitestore and store/pgstore and
// checked by store/storetest.RunProvider. HTTP is internal/server's job: this
// package only decides and signs.
package op
