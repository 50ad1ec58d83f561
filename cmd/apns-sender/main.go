// Command apns-sender delivers APNs jobs from PUSH_SEND_APNS to Apple over
// long-lived HTTP/2 connections and reports every answer as feedback.
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
	err := providers.RunSender(ctx, "apns-sender", "delivers push jobs to Apple APNs over long-lived HTTP/2 connections", &providers.APNsFlags{}, os.Args[1:], os.Getenv, os.Stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "apns-sender:", err)
		os.Exit(1)
	}
}
