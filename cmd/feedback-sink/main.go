// Command feedback-sink consumes PUSH_FEEDBACK and keeps token state in the
// push_tokens bucket: invalid tokens are marked (and then suppressed by the
// dispatcher), replaced tokens are followed.
package main

import (
	"context"
	"flag"
	"os"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/fleet"
)

func main() {
	fleet.Main("feedback-sink", func(ctx context.Context) error {
		return fleet.RunCommand(ctx, "feedback-sink", "turns feedback events into token state and serves the token registry", os.Args[1:], os.Getenv, os.Stderr,
			func(fs *flag.FlagSet) fleet.Build {
				var d config.Sink
				d.Register(fs)
				return func(ctx context.Context, env *fleet.Env) (fleet.Service, error) { return env.FeedbackSink(ctx, d) }
			})
	})
}
