package pgstore

import (
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sessiond/sessiond/session"
)

// assuranceCols are the assurance columns of sessions and families (aal,
// amr, auth_time, aal2_time) as scanned. A row written before migration
// 00010 has aal 0 and reads as the zero Assurance.
type assuranceCols struct {
	aal                int16
	amr                []string
	authTime, aal2Time pgtype.Timestamptz
}

func (a *assuranceCols) dest() []any { return []any{&a.aal, &a.amr, &a.authTime, &a.aal2Time} }

func (a *assuranceCols) assurance() session.Assurance {
	out := session.Assurance{AAL: session.AAL(a.aal), AuthTime: fromNull(a.authTime), AAL2Time: fromNull(a.aal2Time)}
	if len(a.amr) > 0 {
		out.AMR = a.amr
	}
	return out
}

// assuranceArgs are the values of the assurance columns for a.
func assuranceArgs(a session.Assurance) []any {
	amr := a.AMR
	if amr == nil {
		amr = []string{}
	}
	return []any{int16(a.AAL), amr, nullTime(a.AuthTime), nullTime(a.AAL2Time)}
}
