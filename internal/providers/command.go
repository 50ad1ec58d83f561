package providers

import (
	"context"
	"flag"
	"io"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/fleet"
)

// Flags are one provider's command-line settings.
type Flags interface {
	Register(fs *flag.FlagSet)
	Service(env *fleet.Env, sc config.SenderOptions) (fleet.Service, error)
}

// RunSender is the whole life of a standalone sender binary.
func RunSender(ctx context.Context, name, what string, pf Flags, args []string, getenv func(string) string, stderr io.Writer) error {
	return fleet.RunCommand(ctx, name, what, args, getenv, stderr, SenderCommand(pf))
}

// SenderCommand registers a sender binary's flags (the sender's and the
// provider's) and builds its service: its part of fleet.RunCommand.
func SenderCommand(pf Flags) func(fs *flag.FlagSet) fleet.Build {
	return func(fs *flag.FlagSet) fleet.Build {
		var sc config.SenderOptions
		sc.Register(fs)
		pf.Register(fs)
		return func(_ context.Context, env *fleet.Env) (fleet.Service, error) { return pf.Service(env, sc) }
	}
}
