package allinone

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/embedded"
	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/health"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/providers"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// Options configure the all-in-one.
type Options struct {
	Common config.Common
	// DataDir holds the embedded JetStream store (default ./data).
	DataDir string
	// Listen exposes the embedded server to other processes (pushctl);
	// empty keeps it in-process only.
	Listen string
	// AppsFile selects the real providers; empty runs the sandbox providers.
	AppsFile   string
	Dispatcher config.Dispatcher
	Sender     config.Sender
	Sink       config.Sink
	APNs       providers.APNsFlags
	FCM        providers.FCMFlags
	Mi         providers.MiFlags
	// Demo, when positive, publishes that many intents, waits until every
	// notification is accounted for, prints a summary and returns.
	Demo       int
	DemoConfig DemoConfig
	Stdout     io.Writer
	Stderr     io.Writer
}

// ErrUnaccounted is returned when a demo run ends with notifications unaccounted for.
var ErrUnaccounted = errors.New("some notifications are unaccounted for")

// Run runs the fleet until ctx ends, or until the demo is done.
func Run(ctx context.Context, o Options) error {
	if err := o.Common.Validate(); err != nil {
		return err
	}
	log := o.Common.Logger(o.Stderr, "pushfleet")
	natsURL := o.Common.NATSURL
	var connOpts []nats.Option
	if natsURL == "" {
		dir := o.DataDir
		if dir == "" {
			dir = "data"
		}
		dir, _ = filepath.Abs(dir)
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
		srv, err := embedded.Start(embedded.Config{StoreDir: dir, Listen: o.Listen, Logger: log})
		if err != nil {
			return err
		}
		defer srv.Stop()
		connOpts = append(connOpts, srv.ConnectOption())
		natsURL = "embedded"
		if o.Listen != "" {
			natsURL = "nats://" + o.Listen
		}
		log.Info("embedded JetStream started", "store", dir, "listen", o.Listen)
	} else {
		opts, err := o.Common.NATSOptions("pushfleet", log)
		if err != nil {
			return err
		}
		connOpts = opts
	}
	url := o.Common.NATSURL
	nc, js, err := fleet.Connect(url, connOpts...)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := fleet.Provision(ctx, js, o.Common.Streams, log); err != nil {
		return err
	}
	m := metrics.New()
	hs := health.New(o.Common.HTTPAddr, m.Registry, log)
	if err := hs.Start(); err != nil {
		return err
	}
	defer hs.Shutdown(context.WithoutCancel(ctx))
	context.AfterFunc(ctx, hs.Stopping)
	// MaxAttempts: --max-attempts is a common flag now; Sender.Send.MaxAttempts
	// is the older home of the same setting (used while it is unset).
	common := o.Common
	common.MaxAttempts = cmp.Or(common.MaxAttempts, o.Sender.Send.MaxAttempts)
	env := fleet.NewEnv(&common, nc, js, m, hs, log)

	g, closeProviders, mode, err := services(ctx, env, &o)
	if err != nil {
		return err
	}
	defer closeProviders()

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- g.Run(runCtx) }()
	banner(o.Stdout, mode, natsURL, hs.URL())

	var demoErr error
	if o.Demo > 0 {
		demoErr = runDemo(runCtx, env, o.Demo, o.DemoConfig, o.Stdout)
		stop()
	}
	runErr := <-done
	if err := nc.Drain(); err != nil {
		log.Warn("nats drain", "err", err)
	}
	return errors.Join(demoErr, runErr)
}

// services builds the five services with sandbox or real providers.
func services(ctx context.Context, env *fleet.Env, o *Options) (fleet.Group, func(), string, error) {
	var g fleet.Group
	// With real credentials the apps file also names the known apps: an
	// intent for any other app is refused at intake, not by each sender.
	o.Dispatcher.AppsFile = cmp.Or(o.Dispatcher.AppsFile, o.AppsFile)
	d, err := env.Dispatcher(ctx, o.Dispatcher)
	if err != nil {
		return nil, nil, "", err
	}
	g = append(g, d)
	sk, err := env.FeedbackSink(ctx, o.Sink)
	if err != nil {
		return nil, nil, "", err
	}
	g = append(g, sk)

	if o.AppsFile == "" {
		sb, err := startSandbox(env.Metrics.Provider)
		if err != nil {
			return nil, nil, "", err
		}
		for _, p := range events.Platforms {
			svc, err := env.Sender(p, sb.senders[p], o.Sender)
			if err != nil {
				sb.close()
				return nil, nil, "", err
			}
			g = append(g, svc)
		}
		return g, func() { _ = sb.close() }, "sandbox providers (local fakes; tokens starting with \"dead\" are reported dead)", nil
	}

	sc := o.Sender
	sc.AppsFile = o.AppsFile
	for _, build := range []func(*fleet.Env, config.Sender) (fleet.Service, error){o.APNs.Service, o.FCM.Service, o.Mi.Service} {
		svc, err := build(env, sc)
		if err != nil {
			return nil, nil, "", err
		}
		g = append(g, svc)
	}
	return g, func() {}, "providers from " + o.AppsFile, nil
}

func banner(w io.Writer, mode, natsURL, httpURL string) {
	fmt.Fprintf(w, `pushfleet is running: dispatcher, apns-sender, gcm-sender, mi-sender, feedback-sink
  providers: %s
  NATS:      %s
  metrics:   %s/metrics   health: %s/healthz   ready: %s/readyz
publish an intent:
  go run ./cmd/pushctl send --app demo --platform apns --token 0123abcd --title Hello --body World
follow feedback:
  go run ./cmd/pushctl tail
`, mode, natsURL, httpURL, httpURL, httpURL)
}
