// Command pushfleet runs the whole fleet in one process: an embedded
// JetStream server (store ./data), the dispatcher, the APNs, FCM and MiPush
// senders and the feedback-sink, against local sandbox providers unless an
// apps file with real credentials is given. --demo N shows it end to end.
package main

import (
	"context"
	"flag"
	"io"
	"os"
	"time"

	"github.com/pushfleet/pushfleet/internal/allinone"
	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/fleet"
)

func main() {
	fleet.Main("pushfleet", func(ctx context.Context) error {
		return run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	})
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pushfleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := allinone.Options{Stdout: stdout, Stderr: stderr}
	o.Common.Register(fs, "127.0.0.1:8080")
	// The all-in-one embeds its server unless told otherwise.
	if f := fs.Lookup("nats-url"); f != nil {
		f.DefValue, f.Usage = "", "external NATS server URL; empty runs an embedded JetStream server"
		_ = f.Value.Set("")
	}
	fs.StringVar(&o.DataDir, "data", "data", "embedded JetStream store directory")
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:4222", "client address of the embedded server, for pushctl (empty: in-process only)")
	fs.StringVar(&o.AppsFile, "apps-file", "", "apps configuration with real provider credentials (empty: local sandbox providers)")
	o.Dispatcher.Register(fs)
	o.Sender.RegisterInFlight(fs, "")
	fs.DurationVar(&o.Sender.Send.RequestTimeout, "request-timeout", 30*time.Second, "bound on one job's provider call")
	fs.DurationVar(&o.Sender.AppsReload, "apps-reload", 10*time.Second, "how often the apps file is checked for changes")
	o.Sink.Register(fs)
	o.APNs.Register(fs)
	o.FCM.Register(fs)
	o.Mi.Register(fs)
	fs.IntVar(&o.Demo, "demo", 0, "publish N demo intents over the three platforms, print a summary and exit (0 when all are accounted for)")
	fs.DurationVar(&o.DemoConfig.Timeout, "demo-timeout", 2*time.Minute, "how long the demo waits for every notification")
	fs.Usage = config.Usage(fs, "pushfleet: the whole push fleet in one process")
	if err := config.Parse(fs, args, getenv); err != nil {
		return err
	}
	return allinone.Run(ctx, o)
}
