// Command dispatcher consumes push intents from PUSH_INTENTS, validates them,
// resolves their targets, drops tokens known to be invalid and publishes
// per-platform delivery jobs. Run as many replicas as the intent rate needs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/fleet"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "dispatcher:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("dispatcher", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config.Common
	c.Register(fs, ":8080")
	var d config.Dispatcher
	d.Register(fs)
	fs.Usage = config.Usage(fs, "dispatcher: turns push intents into per-platform delivery jobs")
	if err := config.Parse(fs, args, getenv); err != nil {
		return err
	}
	return fleet.RunProcess(ctx, &c, "dispatcher", stderr, func(ctx context.Context, env *fleet.Env) (fleet.Service, error) {
		return env.Dispatcher(ctx, d)
	})
}
