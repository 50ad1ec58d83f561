// Command feedback-sink consumes PUSH_FEEDBACK and keeps token state in the
// push_tokens bucket: invalid tokens are marked (and then suppressed by the
// dispatcher), replaced tokens are followed.
package main

import (
	"context"
	"os"

	"github.com/pushfleet/pushfleet/internal/fleet"
)

func main() {
	fleet.Main("feedback-sink", func(ctx context.Context) error {
		return fleet.RunCommand(ctx, "feedback-sink", "turns feedback events into token state and serves the token registry", os.Args[1:], os.Getenv, os.Stderr,
			fleet.FeedbackSinkCommand)
	})
}
