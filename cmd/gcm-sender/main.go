// Command gcm-sender delivers FCM jobs from PUSH_SEND_FCM to Google FCM HTTP v1
// (the successor of GCM) and reports every answer as feedback.
package main

import (
	"context"
	"os"

	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/providers"
)

func main() {
	fleet.Main("gcm-sender", func(ctx context.Context) error {
		return providers.RunSender(ctx, "gcm-sender", "delivers push jobs to Google FCM HTTP v1 (the API that replaced GCM)", &providers.FCMFlags{}, os.Args[1:], os.Getenv, os.Stderr)
	})
}
