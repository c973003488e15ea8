// Command streamlearn is the one binary of the streaming online-learning and monitoring system:
// serve runs the whole loop; single roles, the demo and admin commands are subcommands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "streamlearn:", err)
		os.Exit(1)
	}
}
