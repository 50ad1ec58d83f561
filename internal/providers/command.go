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
	Service(env *fleet.Env, sc config.Sender) (fleet.Service, error)
}

// RunSender is the whole life of a standalone sender binary: flags with
// environment twins, then fleet.RunProcess with the provider's service.
func RunSender(ctx context.Context, name, what string, pf Flags, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config.Common
	c.Register(fs, ":8080")
	var sc config.Sender
	sc.Register(fs)
	pf.Register(fs)
	fs.Usage = config.Usage(fs, name+": "+what)
	if err := config.Parse(fs, args, getenv); err != nil {
		return err
	}
	return fleet.RunProcess(ctx, &c, name, stderr, func(_ context.Context, env *fleet.Env) (fleet.Service, error) {
		return pf.Service(env, sc)
	})
}
