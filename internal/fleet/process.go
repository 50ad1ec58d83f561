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
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/embedded"
	"github.com/pushfleet/pushfleet/internal/health"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/tracing"
)

var errStarting = errors.New("starting: waiting for NATS and the streams")

// Build constructs a process's services once the environment is up.
type Build func(ctx context.Context, env *Env) (Service, error)

// Process is one pushfleet process: a service binary, the all-in-one or
// pushbench's fleet under test. Run gives each the same life; each keeps
// only what is its own in Build and Foreground.
type Process struct {
	// Name names the process in its logs, its NATS connection and its
	// inbox prefix (config.InboxPrefix).
	Name string
	// Config is the process's settings: NATS, HTTP, logging, provisioning
	// and the settings every component shares (Env).
	Config config.Common
	// Stderr receives the JSON log.
	Stderr io.Writer
	// Embedded, when set, runs a JetStream server inside the process (its
	// Logger defaults to the process's) and Config.NATSURL is not used. The
	// services connect in-process, or over its listener with EmbeddedTCP.
	Embedded    *embedded.Config
	EmbeddedTCP bool
	// Build constructs the services once NATS is connected and the streams
	// are provisioned.
	Build Build
	// Foreground, when set, runs beside the services once they run (the
	// all-in-one's banner and demo, pushbench's steering): when it returns
	// the process stops, as when ctx ends. Its ctx ends when the process
	// stops for any other reason.
	Foreground func(ctx context.Context, env *Env) error
}

// shutdownBound bounds each step of the shutdown that has no bound of its
// own: the NATS connection's drain and the HTTP server's shutdown. The
// services' own drain is bounded by --drain-timeout.
const shutdownBound = 5 * time.Second

// Run is the life of a pushfleet process: serve /metrics, /healthz and
// /readyz (alive at once, ready once the services are built), start the
// embedded server or dial the external one (retrying until it answers),
// provision the streams, build and run the services until ctx ends
// (SIGTERM), the services fail or Foreground returns, then mark the
// process not ready, let the services finish or nak what is in flight,
// run the cleanups (Env.Cleanup), drain the connection and stop the
// embedded server.
func (p *Process) Run(ctx context.Context) error {
	c := &p.Config
	if err := c.Validate(); err != nil {
		return err
	}
	log := c.Logger(p.Stderr, p.Name)
	// Tracing (OTLP) when the OTEL_* environment turns it on; its spans
	// are flushed last, after the services stopped.
	stopTracing, err := tracing.Setup(ctx, p.Name, log)
	if err != nil {
		return err
	}
	defer shutdownTracing(stopTracing, log)
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

	url, opts, publicURL, stopServer, err := p.server(log)
	if err != nil {
		return err
	}
	defer stopServer()
	dial := func() (*nats.Conn, jetstream.JetStream, error) { return Connect(url, opts...) }
	// The first connection waits for the server rather than failing: a
	// service may start before NATS does.
	nc, js, err := Connect(url, append(opts, nats.RetryOnFailedConnect(true))...)
	if err != nil {
		return err
	}
	defer nc.Close()
	env := NewEnv(c, nc, js, m, hs, log)
	env.NATSURL, env.dial = publicURL, dial
	// An embedded server is the process's own: its streams are always
	// provisioned.
	if c.Provision || p.Embedded != nil {
		if err := env.provision(ctx, c.Streams); err != nil {
			return err
		}
	}
	defer env.runCleanups()
	svc, err := p.Build(ctx, env)
	if err != nil {
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	started.Store(true)
	log.Info("started", "nats", nc.ConnectedUrlRedacted(), "http", hs.URL())

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	// Readiness drops as soon as the process is stopping, before the drain.
	context.AfterFunc(runCtx, hs.Stopping)
	done := make(chan error, 1)
	go func() {
		err := svc.Run(runCtx)
		stop()
		done <- err
	}()
	var fgErr error
	fgDone := false
	if p.Foreground != nil {
		fgErr, fgDone = p.Foreground(runCtx, env), true
		stop()
	}
	runErr := <-done
	if (ctx.Err() != nil || fgDone) && errors.Is(runErr, context.Canceled) {
		runErr = nil // asked to stop while a service was still starting
	}
	env.runCleanups()
	drain(nc, log)
	log.Info("stopped")
	return errors.Join(fgErr, runErr)
}

// server starts the embedded server or names the external one: the URL and
// options the services connect with, the URL other processes may use, and
// how to stop the server after the connections drained.
func (p *Process) server(log *slog.Logger) (url string, opts []nats.Option, public string, stop func(), err error) {
	c := &p.Config
	if p.Embedded == nil {
		opts, err := c.NATSOptions(p.Name, log)
		if err != nil {
			return "", nil, "", nil, err
		}
		return c.NATSURL, opts, c.NATSURL, func() {}, nil
	}
	ec := *p.Embedded
	if ec.Logger == nil {
		ec.Logger = log
	}
	srv, err := embedded.Start(ec)
	if err != nil {
		return "", nil, "", nil, err
	}
	log.Info("embedded JetStream started", "store", srv.StoreDir, "listen", srv.URL())
	// Auth and TLS are an external server's: the embedded one has neither.
	opts = config.ClientOptions(p.Name, log)
	if p.EmbeddedTCP {
		if srv.URL() == "" {
			srv.Stop()
			return "", nil, "", nil, errors.New("embedded nats: connecting over TCP needs a listen address")
		}
		url = srv.URL()
	} else {
		opts = append(opts, srv.ConnectOption())
	}
	return url, opts, srv.URL(), srv.Stop, nil
}

// drain drains nc, waiting at most shutdownBound for the publishes still
// in flight to be flushed and the connection to close.
func drain(nc *nats.Conn, log *slog.Logger) {
	if err := nc.Drain(); err != nil {
		log.Warn("nats drain", "err", err)
		return
	}
	deadline := time.Now().Add(shutdownBound)
	for !nc.IsClosed() {
		if time.Now().After(deadline) {
			log.Warn("nats drain: not done, closing", "bound", shutdownBound)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func shutdownTracing(stop tracing.ShutdownFunc, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownBound)
	defer cancel()
	if err := stop(ctx); err != nil {
		log.Warn("tracing shutdown", "err", err)
	}
}

func shutdownHTTP(hs *health.Server, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownBound)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
}
