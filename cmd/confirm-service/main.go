// Command confirm-service runs confirmed delivery: it watches the intents
// that ask for confirmation, re-sends them to delivered devices that have
// not confirmed yet, and reports each such token confirmed or unconfirmed.
package main

import (
	"context"
	"os"

	"github.com/pushfleet/pushfleet/internal/fleet"
)

func main() {
	fleet.Main("confirm-service", func(ctx context.Context) error {
		return fleet.RunCommand(ctx, "confirm-service", "confirmed delivery: re-sends to devices that have not confirmed and reports confirmed and unconfirmed",
			os.Args[1:], os.Getenv, os.Stderr, fleet.ConfirmServiceCommand)
	})
}
