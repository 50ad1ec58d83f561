// Command gcm-sender delivers FCM jobs from PUSH_SEND_FCM to Google FCM HTTP v1
// (the successor of GCM) and reports every answer as feedback.
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
	err := providers.RunSender(ctx, "gcm-sender", "delivers push jobs to Google FCM HTTP v1 (the API that replaced GCM)", &providers.FCMFlags{}, os.Args[1:], os.Getenv, os.Stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "gcm-sender:", err)
		os.Exit(1)
	}
}
