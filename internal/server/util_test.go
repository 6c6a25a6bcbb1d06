package server_test

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/ratelimit"
)

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func mustRate(s string) ratelimit.Rate {
	r, err := ratelimit.ParseRate(s)
	if err != nil {
		panic(err)
	}
	return r
}

func slicesSort(ds []time.Duration) { slices.Sort(ds) }

func realCostHasher(t *testing.T) *account.Hasher {
	t.Helper()
	h, err := account.NewHasher(account.Params{})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
