// Command mi-sender delivers MiPush jobs from PUSH_SEND_MI to Xiaomi over
// kept-alive pipelined connections, reports every answer as feedback, and
// polls MiPush's invalid regids.
package main

import (
	"context"
	"os"

	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/providers"
)

func main() {
	fleet.Main("mi-sender", func(ctx context.Context) error {
		return providers.RunSender(ctx, "mi-sender", "delivers push jobs to Xiaomi MiPush over kept-alive pipelined connections", &providers.MiFlags{}, os.Args[1:], os.Getenv, os.Stderr)
	})
}
