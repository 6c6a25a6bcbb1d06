package sqlitestore

import (
	"strings"

	"github.com/sessiond/sessiond/session"
)

// assuranceCols are the assurance columns of sessions and families (aal,
// amr, auth_time, aal2_time) as scanned. A row written before migration
// 00010 has aal 0 and reads as the zero Assurance.
type assuranceCols struct {
	aal                int64
	amr                string
	authTime, aal2Time int64
}

func (a assuranceCols) assurance() session.Assurance {
	return session.Assurance{AAL: session.AAL(a.aal), AMR: splitAMR(a.amr), AuthTime: fromMS(a.authTime), AAL2Time: fromMS(a.aal2Time)}
}

// joinAMR stores amr values separated by spaces (RFC 8176 values have
// none).
func joinAMR(amr []string) string { return strings.Join(amr, " ") }

func splitAMR(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Fields(s)
}
