// Command dispatcher consumes push intents from PUSH_INTENTS, validates them,
// resolves their targets, drops tokens known to be invalid and publishes
// per-platform delivery jobs. Run as many replicas as the intent rate needs.
package main

import (
	"context"
	"os"

	"github.com/pushfleet/pushfleet/internal/fleet"
)

func main() {
	fleet.Main("dispatcher", func(ctx context.Context) error {
		return fleet.RunCommand(ctx, "dispatcher", "turns push intents into per-platform delivery jobs", os.Args[1:], os.Getenv, os.Stderr,
			fleet.DispatcherCommand)
	})
}
