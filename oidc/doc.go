// Package oidc makes sessiond a relying party of external OpenID providers
// ("sign in with <provider>"): the authorization code flow with state, nonce
// and PKCE S256, bound to the browser and kept server-side in a FlowStore,
// ID-token verification with github.com/coreos/go-oidc/v3, claim mapping,
// and account linking by (issuer, subject) in an IdentityStore — never by
// email.
//
// A Set holds the configured providers. Discovery runs when the Set is
// built; a provider that is down then is retried lazily, at most once per
// RetryInterval, when a browser next starts a sign-in with it.
//
// Flows are stored by the SHA-256 of their state; FlowStore implementations
// exist in store/memstore, store/sqlitestore and store/pgstore. Flows never
// live in process memory only, so any node of a cluster sharing the store
// can finish a flow another node started.
//
// Back-channel logout (OpenID Connect Back-Channel Logout 1.0), receiving
// side: RecordSession notes which local session began from which provider
// session (the ID token's sid); VerifyLogoutToken checks a logout token
// strictly and accepts each jti once (LogoutStore); BackChannelLogout ends
// the local sessions the token names.
package oidc
