package web_test

import (
	"fmt"
	"time"

	"github.com/sessiond/sessiond/internal/web"
)

func ExampleParseUserAgent() {
	ua := web.ParseUserAgent("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15")
	fmt.Println(ua.Browser, ua.Version, ua.OS)
	fmt.Println(ua)
	fmt.Println(web.ParseUserAgent("curl/8.5.0"))
	// Output:
	// Safari 17 macOS
	// Safari 17 on macOS
	// curl 8
}

func ExampleRelativeTime() {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	fmt.Println(web.RelativeTime(now.Add(-5*time.Minute), now))
	fmt.Println(web.RelativeTime(now.Add(-30*time.Hour), now))
	// Output:
	// 5 minutes ago
	// yesterday
}
