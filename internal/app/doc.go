// Package app wires sessiond together from its configuration: it opens the
// stores a configuration names (OpenStores), builds the account, session and
// token services on them, schedules signing-key rotation, hands the result to
// internal/server as its Options (Build) and serves it (App.Serve). It is the
// only package that knows every store backend; internal/server knows none.
package app
