package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/sessiond/sessiond/ratelimit"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/redisstore"
)

// Open a Redis Cluster as the session store of a session.Manager, with the
// failed-login limiter shared by every node. (Not run: it needs a cluster.)
func ExampleOpen() {
	ctx := context.Background()
	st, err := redisstore.Open(ctx, "redis+cluster://10.0.0.1:6379,10.0.0.2:6379,10.0.0.3:6379",
		redisstore.Options{Prefix: "sessiond:"})
	if err != nil {
		log.Fatal(err) // wraps session.ErrUnavailable when Redis is unreachable
	}
	defer st.Close()

	m, err := session.NewManager(session.Config{Store: st, IdleTimeout: time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	perAccount := st.Limiter(ratelimit.Rate{N: 10, Per: time.Minute}, "login-account")
	if wait, err := perAccount.Reserve(ctx, "acct:alice@example.com"); err == nil && wait == 0 {
		s, _, err := m.Create(ctx, "u_alice", session.Meta{IP: "192.0.2.1", Method: "password"})
		fmt.Println(s != nil, err)
	}
}
