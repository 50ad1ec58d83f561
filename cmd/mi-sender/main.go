// Command mi-sender delivers MiPush jobs from PUSH_SEND_MI to Xiaomi over
// kept-alive pipelined connections, reports every answer as feedback, and
// polls MiPush's invalid regids.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/pushfleet/pushfleet/internal/providers"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := providers.RunSender(ctx, "mi-sender", "delivers push jobs to Xiaomi MiPush over kept-alive pipelined connections", &providers.MiFlags{}, os.Args[1:], os.Getenv, os.Stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "mi-sender:", err)
		os.Exit(1)
	}
}
