// Package mfa is sessiond's second-factor library: TOTP authenticator apps
// (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps, one step of skew either
// side, each code accepted once), their QR codes, single-use recovery codes,
// and the WebAuthn credential record with its go-webauthn adapter and clone
// rule (a signature counter that does not go up is refused with
// ErrClonedAuthenticator). The server's endpoints, pages and stores build on
// it; the WebAuthn ceremonies themselves are go-webauthn's.
//
// Secrets are sealed at rest through a Sealer (in practice *token.Sealer,
// AES-256-GCM under the deployment's key-encryption key) with the user ID as
// associated data, so a secret copied to another account opens nowhere. The
// single-use rules live in two small store interfaces, StepStore (the last
// accepted TOTP step, advanced by compare-and-set) and RecoveryStore (hashes
// of unused codes, each removed atomically); Memory implements both, and
// package mfatest is the conformance suite every backend runs.
//
// What a sign-in proved (aal, amr, auth_time, aal2_time) is not here but in
// package session (session.Assurance, session.Factor): the Session record
// carries it, token and refresh copy it into claims and families, and
// session must stay standard-library-only, so the type cannot live in a
// package that imports otp or QR libraries. mfa depends on session, never
// the other way round. A verified TOTP or recovery code is
// session.FactorOTP.
package mfa
