package pgstore_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/pgstore"
)

// Open a store on a PostgreSQL database, applying migrations, and keep a
// session in it. The pool's size comes from the DSN.
func Example() {
	ctx := context.Background()
	st, err := pgstore.Open(ctx, "postgres://sessiond@db.internal:5432/sessiond?sslmode=verify-full&pool_max_conns=32",
		pgstore.Options{Migrate: true})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	tok, err := session.NewToken(nil)
	if err != nil {
		log.Fatal(err)
	}
	now := time.Now()
	h := session.HashToken(tok)
	s := &session.Session{ID: session.IDFromHash(h), Hash: h, UserID: "usr_1", CreatedAt: now, LastSeenAt: now,
		IdleExpiresAt: now.Add(30 * time.Minute), ExpiresAt: now.Add(12 * time.Hour)}
	if err := st.Create(ctx, s); err != nil {
		log.Fatal(err)
	}
	got, err := st.Get(ctx, s.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.UserID)
}
