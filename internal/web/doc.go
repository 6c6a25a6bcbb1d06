// Package web holds sessiond's HTML pages — the login form and the account
// page — as embedded html/template files with one small stylesheet, and the
// helpers they need: a user-agent reader for the devices table and relative
// times. It has no HTTP routes of its own and no scripts: internal/server
// decides what to show, web renders it with a strict Content-Security-Policy
// (SetHeaders) and serves the stylesheet and the branding's theme (Assets).
// It imports the standard library only.
package web
