package allinone

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/embedded"
	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/gateway"
	"github.com/pushfleet/pushfleet/internal/providers"
	"github.com/pushfleet/pushfleet/internal/sandbox"
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
	Sender     config.SenderOptions
	Sink       config.Sink
	// Confirm is the confirmation service (confirmed delivery).
	Confirm fleet.ConfirmOptions
	APNs    providers.APNsFlags
	FCM     providers.FCMFlags
	Mi      providers.MiFlags
	HMS     providers.HMSFlags
	WebPush providers.WebPushFlags
	// Gateway is the HTTP push gateway, off unless --gateway-addr is set.
	Gateway gateway.Config
	// Demo, when positive, publishes that many intents, waits until every
	// notification is accounted for, prints a summary and returns.
	Demo       int
	DemoConfig DemoConfig
	Stdout     io.Writer
	Stderr     io.Writer

	// started, when set, sees the environment once the services run (tests).
	started func(env *fleet.Env)
	// sandbox is the sandbox providers, when they run: the demo's tokens
	// (Web Push subscriptions) come from their fakes.
	sandbox *sandboxFleet
}

// ErrUnaccounted is returned when a demo run ends with notifications unaccounted for.
var ErrUnaccounted = errors.New("some notifications are unaccounted for")

// Defaults of the all-in-one's own flags.
const (
	DefaultHTTPAddr = "127.0.0.1:8080"
	DefaultDataDir  = "data"
	DefaultListen   = "127.0.0.1:4222"
)

// Register adds the all-in-one's flags to fs: the common ones (--nats-url
// empty: the embedded server), its own, and those of the five services.
func (o *Options) Register(fs *flag.FlagSet) {
	o.Common.Register(fs, DefaultHTTPAddr)
	// The all-in-one embeds its server unless told otherwise.
	if f := fs.Lookup("nats-url"); f != nil {
		f.DefValue, f.Usage = "", "external NATS server URL, from the command line only (PUSHFLEET_NATS_URL, which pushctl reads, is ignored here); empty runs an embedded JetStream server"
		_ = f.Value.Set("")
	}
	fs.StringVar(&o.DataDir, "data", DefaultDataDir, "embedded JetStream store directory")
	fs.StringVar(&o.Listen, "listen", DefaultListen, "client address of the embedded server, for pushctl (empty: in-process only)")
	// Before the services' flags: theirs then keep it.
	fs.StringVar(&o.AppsFile, "apps-file", "", "apps configuration with real provider credentials (empty: local sandbox providers)")
	o.Dispatcher.Register(fs)
	o.Gateway.Register(fs, "") // off by default in the all-in-one
	o.Sender.Register(fs)
	o.Sink.Register(fs)
	o.Confirm.Register(fs)
	o.APNs.Register(fs)
	o.FCM.Register(fs)
	o.Mi.Register(fs)
	o.HMS.Register(fs)
	o.WebPush.Register(fs)
	fs.IntVar(&o.Demo, "demo", 0, "publish N demo intents over the five platforms, print a summary and exit (0 when all are accounted for)")
	fs.DurationVar(&o.DemoConfig.Timeout, "demo-timeout", DefaultDemoTimeout, "how long the demo waits for every notification")
}

// Parse reads the all-in-one's flags from args, each with its environment
// twin; -h prints them to stderr.
func Parse(args []string, getenv func(string) string, stdout, stderr io.Writer) (Options, error) {
	fs := flag.NewFlagSet("pushfleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := Options{Stdout: stdout, Stderr: stderr}
	o.Register(fs)
	fs.Usage = config.Usage(fs, "pushfleet: the whole push fleet in one process")
	if err := config.Parse(fs, args, allInOneEnv(getenv)); err != nil {
		return Options{}, err
	}
	return o, nil
}

// allInOneEnv hides PUSHFLEET_NATS_URL: for pushctl and the services it
// names the server they talk to, and a developer who exported it for
// pushctl still wants `go run ./cmd/pushfleet` to run its embedded server.
// The all-in-one takes an external server from --nats-url on the command
// line only.
func allInOneEnv(getenv func(string) string) func(string) string {
	return func(name string) string {
		if name == config.EnvName("nats-url") {
			return ""
		}
		return getenv(name)
	}
}

// Run runs the fleet until ctx ends, or until the demo is done: the
// fleet's process life (fleet.Process) with the embedded server unless
// Common.NATSURL names one, the eight services, the banner and the demo.
func Run(ctx context.Context, o Options) error {
	var mode string
	p := fleet.Process{Name: "pushfleet", Config: o.Common, Stderr: o.Stderr,
		Build: func(ctx context.Context, env *fleet.Env) (fleet.Service, error) {
			g, m, err := services(ctx, env, &o)
			mode = m
			return g, err
		},
		Foreground: func(ctx context.Context, env *fleet.Env) error {
			if o.started != nil {
				o.started(env)
			}
			app := sandbox.App
			if o.AppsFile != "" {
				app = "<an app of " + o.AppsFile + ">"
			}
			banner(o.Stdout, mode, env.NATSURL, env.Health.URL(), app)
			if o.Demo > 0 {
				token := sandbox.Token
				if o.sandbox != nil {
					token = o.sandbox.Token
				}
				return runDemo(ctx, env, o.Demo, o.DemoConfig, token, o.Stdout)
			}
			<-ctx.Done()
			return nil
		},
	}
	if o.Common.NATSURL == "" {
		p.Embedded = &embedded.Config{StoreDir: cmp.Or(o.DataDir, DefaultDataDir), Listen: o.Listen}
	}
	return p.Run(ctx)
}

// services builds the eight services with sandbox or real providers, and
// says which.
func services(ctx context.Context, env *fleet.Env, o *Options) (fleet.Group, string, error) {
	var g fleet.Group
	// With real credentials the apps file also names the known apps: an
	// intent for any other app is refused at intake, not by each sender.
	o.Dispatcher.AppsFile = cmp.Or(o.Dispatcher.AppsFile, o.AppsFile)
	d, err := env.Dispatcher(ctx, o.Dispatcher)
	if err != nil {
		return nil, "", err
	}
	g = append(g, d)
	sk, err := env.FeedbackSink(ctx, o.Sink)
	if err != nil {
		return nil, "", err
	}
	g = append(g, sk)
	cs, err := env.ConfirmService(ctx, o.Confirm)
	if err != nil {
		return nil, "", err
	}
	g = append(g, cs)
	if o.Gateway.Addr != "" {
		gc := o.Gateway
		gc.Limits, gc.Horizon = o.Dispatcher.Dispatch.Limits, o.Dispatcher.Dispatch.ScheduleHorizon
		gw, err := gateway.NewService(gc, gateway.ProcessEnv{JS: env.JS, NC: env.NC, Metrics: env.Metrics,
			Health: env.Health, Logger: env.Logger, DrainTimeout: env.DrainTimeout})
		if err != nil {
			return nil, "", err
		}
		g = append(g, gw)
	}

	if o.AppsFile == "" {
		sb, err := startSandbox(env.Metrics.Provider)
		if err != nil {
			return nil, "", err
		}
		env.Cleanup(func() { _ = sb.close() })
		o.sandbox = sb
		for _, p := range events.Platforms {
			svc, err := env.SenderService(p, sb.senders[p], o.Sender)
			if err != nil {
				return nil, "", err
			}
			g = append(g, svc)
		}
		return g, "sandbox providers (local fakes; tokens starting with \"dead\" are reported dead)", nil
	}

	sc := o.Sender
	sc.AppsFile = o.AppsFile
	for _, build := range []func(*fleet.Env, config.SenderOptions) (fleet.Service, error){o.APNs.Service, o.FCM.Service, o.Mi.Service, o.HMS.Service, o.WebPush.Service} {
		svc, err := build(env, sc)
		if err != nil {
			return nil, "", err
		}
		g = append(g, svc)
	}
	return g, "providers from " + o.AppsFile, nil
}

func banner(w io.Writer, mode, natsURL, httpURL, app string) {
	// pushctl must reach the same server: name it unless it is in-process only.
	nats, shown := "", cmp.Or(natsURL, "embedded, in-process only (--listen to expose it)")
	if natsURL != "" {
		nats = " --nats-url " + natsURL
	}
	fmt.Fprintf(w, `pushfleet is running: dispatcher, apns-sender, gcm-sender, mi-sender, hms-sender, webpush-sender, feedback-sink, confirm-service
  providers: %s
  NATS:      %s
  metrics:   %s/metrics   health: %s/healthz   ready: %s/readyz
publish an intent:
  go run ./cmd/pushctl send%s --app %s --platform apns --token 0123abcd --title Hello --body World
follow feedback:
  go run ./cmd/pushctl tail -f%s
`, mode, shown, httpURL, httpURL, httpURL, nats, app, nats)
}
