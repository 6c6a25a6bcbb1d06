package pgstore

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sessiond/sessiond/session"
)

func TestWrapClassifiesErrors(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	bg := context.Background()
	pg := func(code string) error { return &pgconn.PgError{Severity: "ERROR", Code: code, Message: "m"} }
	var (
		notFound    = session.ErrNotFound
		conflict    = session.ErrConflict
		unavailable = session.ErrUnavailable
	)
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		is   []error
	}{
		{"no rows", bg, pgx.ErrNoRows, []error{notFound}},
		{"unique violation", bg, pg("23505"), []error{conflict}},
		{"admin shutdown", bg, pg("57P01"), []error{unavailable}},
		{"cannot connect now", bg, pg("57P03"), []error{unavailable}},
		{"too many connections", bg, pg("53300"), []error{unavailable}},
		{"connection failure", bg, pg("08006"), []error{unavailable}},
		{"statement timeout", bg, pg("57014"), []error{unavailable}},
		{"read-only standby", bg, pg("25006"), []error{unavailable}},
		{"undefined table", bg, pg("42P01"), nil},
		{"refused", bg, &net.OpError{Op: "dial", Err: errors.New("connection refused")}, []error{unavailable}},
		{"eof", bg, io.ErrUnexpectedEOF, []error{unavailable}},
		{"canceled, driver error", canceled, errors.New("timeout: conn closed"), []error{context.Canceled}},
		{"canceled, wrapped", canceled, context.Canceled, []error{context.Canceled}},
		{"canceled, query canceled", canceled, pg("57014"), []error{context.Canceled}},
		{"deadline", expired, errors.New("timeout"), []error{unavailable, context.DeadlineExceeded}},
		{"deadline, query canceled", expired, pg("57014"), []error{unavailable, context.DeadlineExceeded}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := wrap(tc.ctx, "op", tc.err)
			for _, want := range tc.is {
				if !errors.Is(got, want) {
					t.Errorf("%v: want errors.Is %v", got, want)
				}
			}
			for _, s := range []error{notFound, conflict, unavailable, context.Canceled} {
				if errors.Is(got, s) && !slices.Contains(tc.is, s) {
					t.Errorf("%v: unexpectedly errors.Is %v", got, s)
				}
			}
			if !strings.HasPrefix(got.Error(), "pgstore: op: ") {
				t.Errorf("prefix: %v", got)
			}
		})
	}
}
