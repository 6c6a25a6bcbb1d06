package server_test

import (
	"testing"

	"github.com/sessiond/sessiond/internal/config"
)

// buildConfig loads the default configuration with flags, and a fresh data
// directory, for tests that wire sessiond as the binary does (app.Build).
func buildConfig(t *testing.T, flags map[string]string) *config.Config {
	t.Helper()
	flags["data"] = t.TempDir()
	cfg, err := config.Load("", nil, flags)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}
