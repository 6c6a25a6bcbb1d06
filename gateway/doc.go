// Package gateway decides whether a request may pass sessiond's gateway
// (forward auth at /v1/authz and the built-in reverse proxy): it puts the
// request's path and host into one canonical form, and matches them against
// an ordered list of rules, the first match winning.
//
// Canonical paths. [CleanPath] reads a raw (percent-encoded) request path
// and returns the form every rule is matched in, so that spellings a
// backend treats as the same path are one path here:
//
//   - percent-encoded unreserved characters (A–Z a–z 0–9 - . _ ~) are
//     decoded, and so are ':', '@' and the sub-delimiters other than ';'
//     ("!$&'()*+,="), which RFC 3986 allows literally in a segment and
//     nearly every server decodes there; every other escape is kept, with
//     upper-case hex digits; bytes that may not appear literally in a path
//     are encoded;
//   - "." and ".." segments are resolved (so %2e%2e is ".." too), and a
//     ".." above the root is refused;
//   - empty segments ("//") are collapsed;
//   - ";params" are cut from every segment ("/admin;x/" is "/admin/");
//   - an encoded slash (%2F) or backslash (%5C), a literal backslash, a
//     control character (literal or encoded) and a malformed escape are
//     refused with an error wrapping [ErrPath], never matched: they are
//     how path-confusion attacks start, and no spelling of them is safe
//     against every backend;
//   - case is kept: paths are case-sensitive unless a [Policy] is built
//     with [Options.CaseInsensitivePaths] (for backends that fold case).
//
// Hosts ([CleanHost]) are compared in lower case, without port and without
// a trailing dot.
//
// Path prefixes match whole segments: "/admin" matches "/admin" and
// "/admin/users", never "/administrator".
//
// The package has no I/O and imports only the standard library. Every
// function is safe for concurrent use; a [Policy] is immutable.
package gateway
