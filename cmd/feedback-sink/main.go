// Command feedback-sink consumes PUSH_FEEDBACK and keeps token state in the
// push_tokens bucket: invalid tokens are marked (and then suppressed by the
// dispatcher), replaced tokens are followed.
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
		fmt.Fprintln(os.Stderr, "feedback-sink:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("feedback-sink", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config.Common
	c.Register(fs, ":8080")
	var s config.Sink
	s.Register(fs)
	fs.Usage = config.Usage(fs, "feedback-sink: turns feedback events into token state")
	if err := config.Parse(fs, args, getenv); err != nil {
		return err
	}
	return fleet.RunProcess(ctx, &c, "feedback-sink", stderr, func(ctx context.Context, env *fleet.Env) (fleet.Service, error) {
		return env.FeedbackSink(ctx, s)
	})
}
