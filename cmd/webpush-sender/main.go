// Command webpush-sender delivers Web Push jobs from PUSH_SEND_WEBPUSH to
// browsers' push services (RFC 8030, payloads encrypted per RFC 8291,
// VAPID per RFC 8292) over connections kept per push service host, and
// reports every answer as feedback.
package main

import (
	"context"
	"os"

	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/providers"
)

func main() {
	fleet.Main("webpush-sender", func(ctx context.Context) error {
		return providers.RunSender(ctx, "webpush-sender", "delivers push jobs to browsers' Web Push services with VAPID and encrypted payloads", &providers.WebPushFlags{}, os.Args[1:], os.Getenv, os.Stderr)
	})
}
