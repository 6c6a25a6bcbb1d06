package account

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCleanRoles: the one normalisation of roles, shared by Register, Update
// and single sign-on (oidc's roles claim).
func TestCleanRoles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"nil", nil, []string{}},
		{"kept in order", []string{"b", "a"}, []string{"b", "a"}},
		{"trimmed", []string{" admin\t", "\nops "}, []string{"admin", "ops"}},
		{"empty dropped", []string{"", "  ", "a"}, []string{"a"}},
		{"duplicates dropped, first kept", []string{"a", "b", " a", "b "}, []string{"a", "b"}},
		{"case kept", []string{"Admin", "admin"}, []string{"Admin", "admin"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]string(nil), tc.in...)
			if diff := cmp.Diff(tc.want, CleanRoles(tc.in)); diff != "" {
				t.Errorf("CleanRoles(%q) (-want +got):\n%s", tc.in, diff)
			}
			if !cmp.Equal(in, tc.in) {
				t.Errorf("CleanRoles changed its input to %q", tc.in)
			}
		})
	}
}
