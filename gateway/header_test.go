package gateway_test

import (
	"testing"

	"github.com/sessiond/sessiond/gateway"
)

func TestIdentityHeader(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		want bool
	}{
		{"X-User-Id", true}, {"x-user-id", true}, {"X-USER-ID", true}, {"X_User_Id", true}, {"x_user_id", true},
		{"X_USER_ID", true}, {"X-User_Id", true}, {"X_User-Email", true}, {"x-user-roles", true}, {"X-User-Anything", true},
		{"X-Org-Id", true}, {"x_org_id", true}, {"X-Session-Id", true}, {"X_SESSION_ID", true}, {"X-Internal-Token", true},
		{"x_internal_token", true},
		{"X-User", false}, {"X-Users-Id", false}, {"XUserId", false}, {"X-Org", false}, {"X-Session-Ids", false},
		{"User-Agent", false}, {"X-Request-Id", false}, {"Authorization", false}, {"", false}, {"X--User-Id", false},
	} {
		if got := gateway.IdentityHeader(c.name); got != c.want {
			t.Errorf("IdentityHeader(%q) = %v, want %v", c.name, got, c.want)
		}
	}
}
