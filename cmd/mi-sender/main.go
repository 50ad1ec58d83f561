// Command mi-sender delivers MiPush jobs from PUSH_SEND_MI to Xiaomi over
// kept-alive pipelined connections and reports every answer as feedback.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/providers"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/mi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mi-sender:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("mi-sender", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config.Common
	c.Register(fs, ":8080")
	var sc config.Sender
	sc.Register(fs)
	var pf providers.MiFlags
	pf.Register(fs)
	fs.Usage = config.Usage(fs, "mi-sender: delivers push jobs to Xiaomi MiPush")
	if err := config.Parse(fs, args, getenv); err != nil {
		return err
	}
	return fleet.RunProcess(ctx, &c, "mi-sender", stderr, func(_ context.Context, env *fleet.Env) (fleet.Service, error) {
		cfg, err := pf.Config(env.Logger.With("component", "mi"), env.Metrics.Provider)
		if err != nil {
			return nil, err
		}
		var ms *mi.Sender
		svc, err := providers.Service(env, events.Mi, sc, func(a map[string]mi.AppConfig) (*mi.Sender, error) {
			s, err := mi.New(cfg, a)
			ms = s
			return s, err
		})
		if err != nil || pf.Poll <= 0 {
			return svc, err
		}
		poll, err := providers.MiInvalidPoll(env, ms, pf.Poll)
		if err != nil {
			return nil, err
		}
		return fleet.Group{svc, poll}, nil
	})
}
