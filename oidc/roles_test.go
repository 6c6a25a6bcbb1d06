package oidc

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRolesClaim: a provider's roles claim is cleaned as account cleans
// every user's roles (account.CleanRoles), whatever JSON shape it has.
func TestRolesClaim(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		claim any
		want  []string
	}{
		{"array", []any{"admin", "ops"}, []string{"admin", "ops"}},
		{"array cleaned", []any{" admin ", "", "ops", "admin", "\t"}, []string{"admin", "ops"}},
		{"array non-strings ignored", []any{"a", 1.0, nil, true, []any{"b"}, map[string]any{"c": "d"}}, []string{"a"}},
		{"space-separated string", "admin  ops admin", []string{"admin", "ops"}},
		{"empty string", "", nil},
		{"blank array", []any{" ", ""}, nil},
		{"number", 42.0, nil},
		{"null", nil, nil},
		{"object", map[string]any{"admin": true}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, rolesClaim(tc.claim)); diff != "" {
				t.Errorf("rolesClaim(%v) (-want +got):\n%s", tc.claim, diff)
			}
		})
	}
}
