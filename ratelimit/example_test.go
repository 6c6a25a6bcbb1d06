package ratelimit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/sessiond/sessiond/ratelimit"
)

func ExampleMemory() {
	// A fixed clock that the example moves by hand.
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }

	// 3 failures in a burst, then one every 20s.
	limiter := ratelimit.NewMemory(ratelimit.Rate{N: 3, Per: time.Minute}, clock)
	defer limiter.Close()

	ctx := context.Background()
	const key = "login:alice@example.com"
	for attempt := 1; attempt <= 4; attempt++ {
		// Take the slot before checking the password, so that parallel
		// attempts cannot all pass.
		wait, err := limiter.Reserve(ctx, key)
		if err != nil {
			fmt.Println("refuse:", err) // fail closed
			return
		}
		if wait > 0 {
			fmt.Printf("attempt %d: 429 Too Many Requests, Retry-After %v\n", attempt, wait)
			continue
		}
		fmt.Printf("attempt %d: wrong password\n", attempt)
	}

	// 20s later one slot is back: the right password takes it, and, since
	// only failures count, gives it back and forgets the failures.
	now = now.Add(20 * time.Second)
	wait, _ := limiter.Reserve(ctx, key)
	fmt.Printf("20s later: wait %v\n", wait)
	_ = limiter.Refund(ctx, key)
	_ = limiter.Reset(ctx, key)
	wait, _ = limiter.Reserve(ctx, key)
	fmt.Printf("after a successful login: wait %v\n", wait)

	// Output:
	// attempt 1: wrong password
	// attempt 2: wrong password
	// attempt 3: wrong password
	// attempt 4: 429 Too Many Requests, Retry-After 20s
	// 20s later: wait 0s
	// after a successful login: wait 0s
}
