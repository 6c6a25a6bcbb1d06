// Command sessiond is the session and token server. See README.md, or run
// "sessiond --help".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sessiond/sessiond/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Exit(ctx)
	stop()
	os.Exit(code)
}
