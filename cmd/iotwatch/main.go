// Command iotwatch measures the security of IoT device populations.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"iotwatch/internal/cli"
)

func main() {
	// The one place signals are handled: SIGINT or SIGTERM cancels ctx, and
	// every command stops, records its run as interrupted and keeps what it
	// measured. A second signal ends the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	err := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, cli.ErrorLine(err))
		os.Exit(cli.ExitCode(err))
	}
}
