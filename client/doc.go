// Package client is sessiond's registry of OAuth 2 clients: the apps and
// services that use the token endpoint, the OpenID Provider's authorization
// endpoint, introspection and revocation.
//
// A Client records what it may do — its grants, the audiences it may target
// with client_credentials and token exchange, its exact redirect URIs and
// its back-channel logout URI — and, for a confidential client, a hash of its
// secret. Validate checks a registration once, before it is stored; Allows,
// AllowsAudience, HasRedirectURI and CheckSecret answer the questions a
// request asks. Store is the small persistence interface every backend
// implements (store/memstore, store/sqlitestore), checked by
// store/storetest.RunClients.
//
// The built-in first-party public client for the password grant (FirstPartyID,
// FirstParty) is not stored; Lookup returns it for its ID and asks the Store
// for every other.
//
// The package imports only the standard library and the session domain
// (for the shared ErrNotFound and ErrConflict).
package client
