// Command apns-sender delivers APNs jobs from PUSH_SEND_APNS to Apple over
// long-lived HTTP/2 connections and reports every answer as feedback.
package main

import (
	"context"
	"os"

	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/providers"
)

func main() {
	fleet.Main("apns-sender", func(ctx context.Context) error {
		return providers.RunSender(ctx, "apns-sender", "delivers push jobs to Apple APNs over long-lived HTTP/2 connections", &providers.APNsFlags{}, os.Args[1:], os.Getenv, os.Stderr)
	})
}
