package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/health"
	"github.com/pushfleet/pushfleet/internal/metrics"
)

var errStarting = errors.New("starting: waiting for NATS and the streams")

// Build constructs a process's services once the environment is up.
type Build func(ctx context.Context, env *Env) (Service, error)

// RunProcess is the life of a standalone service binary: connect to NATS,
// provision the streams, serve /metrics, /healthz and /readyz, build and run
// the services until ctx ends (SIGTERM), then stop fetching, finish or nak
// what is in flight, drain the connection and exit.
func RunProcess(ctx context.Context, c *config.Common, name string, stderr io.Writer, build Build) error {
	if err := c.Validate(); err != nil {
		return err
	}
	log := c.Logger(stderr, name)
	opts, err := c.NATSOptions(name, log)
	if err != nil {
		return err
	}
	// Serve /healthz first, so that a pod waiting for NATS is alive but not
	// ready, rather than crash-looping until NATS is up.
	m := metrics.New()
	hs := health.New(c.HTTPAddr, m.Registry, log)
	var started atomic.Bool
	hs.AddCheck("startup", func() error {
		if !started.Load() {
			return errStarting
		}
		return nil
	})
	if err := hs.Start(); err != nil {
		return err
	}
	defer shutdownHTTP(hs, log)
	nc, js, err := Connect(c.NATSURL, append(opts, nats.RetryOnFailedConnect(true))...)
	if err != nil {
		return err
	}
	defer nc.Close()
	if c.Provision {
		if err := Provision(ctx, js, c.Streams, log); err != nil {
			return err
		}
	}
	env := NewEnv(c, nc, js, m, hs, log)
	svc, err := build(ctx, env)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	started.Store(true)
	log.Info("started", "nats", nc.ConnectedUrlRedacted(), "http", hs.URL())
	runErr := svc.Run(stopping(ctx, hs))
	if err := nc.Drain(); err != nil {
		log.Warn("nats drain", "err", err)
	}
	log.Info("stopped")
	return runErr
}

// stopping returns ctx, marking the process not ready as soon as it ends so
// that readiness drops before the drain begins.
func stopping(ctx context.Context, hs *health.Server) context.Context {
	context.AfterFunc(ctx, hs.Stopping)
	return ctx
}

func shutdownHTTP(hs *health.Server, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
}
