package gateway

import "strings"

// IdentityHeader reports whether the header name normalises to one of the
// identity headers the gateway sets — X-User-* (X-User-Id, X-User-Email,
// X-User-Roles, ...), X-Org-Id, X-Session-Id, X-Internal-Token — compared
// without regard to case and with "_" read as "-", as CGI, WSGI and Rack
// do when they fold X_User_Id into HTTP_X_USER_ID. Such headers from a
// client must never reach an upstream. Safe for concurrent use.
func IdentityHeader(name string) bool {
	n := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
	if strings.HasPrefix(n, "x-user-") {
		return true
	}
	switch n {
	case "x-org-id", "x-session-id", "x-internal-token":
		return true
	}
	return false
}
