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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "iotwatch:", err)
		os.Exit(cli.ExitCode(err))
	}
}
