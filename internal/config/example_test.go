package config_test

import (
	"fmt"

	"github.com/sessiond/sessiond/internal/config"
)

func ExampleLoad() {
	cfg, err := config.Load("", // no config file
		[]string{"SESSIOND_TOKEN_ACCESS_TTL=5m", "HOME=/root"},
		map[string]string{"addr": "127.0.0.1:9000"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Addr, cfg.BaseURL, cfg.Token.AccessTTL, cfg.Token.AccessTTL.Duration.Seconds())
	fmt.Println(cfg.Store.Users, cfg.RateLimit.LoginPerAccount.N, cfg.RateLimit.LoginPerAccount.Per)
	// Output:
	// 127.0.0.1:9000 http://127.0.0.1:9000 5m 300
	// sqlite:sessiond-data/sessiond.db 10 1m0s
}

func ExampleLoad_errors() {
	_, err := config.Load("", []string{
		"SESSIOND_TOKEN_ACCESS_TTL=15",
		"SESSIOND_TOKEN_LEEWAY=2m",
		"SESSIOND_TOKEN_HS256_SECRET=not-printed",
	}, nil)
	fmt.Println(err)
	// Output:
	// config: env SESSIOND_TOKEN_ACCESS_TTL: token.access_ttl: "15" is not a duration (use Go syntax like 15m or 1h30m)
	// config: env SESSIOND_TOKEN_HS256_SECRET: token.hs256_secret: is set but token.alg is EdDSA; remove it, or set token.alg to HS256
	// config: env SESSIOND_TOKEN_LEEWAY: token.leeway: 2m is more than the 60s allowed (skew beyond a minute is a clock problem: fix NTP)
}

func ExampleConfig_Redacted() {
	cfg, err := config.Load("", []string{"SESSIOND_STORE_USERS=postgres://sessiond:hunter2@db:5432/sessiond"}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	store := cfg.Redacted()["store"].(map[string]any)
	fmt.Println(store["users"])
	fmt.Println(store["sessions"])
	// Output:
	// postgres://sessiond:xxxxx@db:5432/sessiond
	// postgres://sessiond:xxxxx@db:5432/sessiond
}
