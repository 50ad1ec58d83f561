// Command webhook-sender delivers the jobs of the custom platform "webhook"
// (PUSH_SEND_WEBHOOK) as HTTPS POSTs to each app's URL, signed with an
// HMAC-SHA256 of a timestamp and the body (pkg/channel/webhook), with the
// built-in senders' guarantees: it runs through the same sender service.
// It is also the example of a custom channel's binary (docs/channels.md):
// a pkg/channel Deliverer, its apps-file section, and this wiring.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/providers"
	"github.com/pushfleet/pushfleet/pkg/channel/webhook"
	"github.com/pushfleet/pushfleet/pkg/events"
)

const name = "webhook-sender"

func main() {
	fleet.Main(name, func(ctx context.Context) error { return run(ctx, os.Args[1:], os.Getenv) })
}

func run(ctx context.Context, args []string, getenv func(string) string) error {
	// The channel's platform, declared before the flags are parsed and the
	// streams provisioned: PUSH_SEND_WEBHOOK, PUSH_RETRY_WEBHOOK,
	// durable webhook-sender, feedback on push.feedback.webhook.<app>.
	if _, err := events.DeclarePlatform(string(webhook.Platform)); err != nil {
		return err
	}
	return providers.RunSender(ctx, name,
		"delivers notifications as signed HTTPS POSTs to each app's webhook URL (the custom platform \"webhook\")",
		&webhookFlags{}, args, getenv, os.Stderr)
}

// webhookFlags are the channel's own flags (providers.Flags).
type webhookFlags struct {
	caFile      string
	opts        webhook.Options
	concurrency int
}

func (f *webhookFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.caFile, "webhook-ca-file", "", "PEM bundle of extra CAs to trust for the apps' webhook URLs (empty: the system roots)")
	fs.DurationVar(&f.opts.Timeout, "webhook-timeout", webhook.DefaultTimeout, "bound on one webhook request, answer included")
	fs.IntVar(&f.opts.Concurrency, "webhook-concurrency", 8, "requests of one job made at once")
	fs.IntVar(&f.opts.MaxRequests, "webhook-requests", 256, "requests made at once by the process (0: no bound but the jobs')")
}

// Service builds the sender service: the apps file's "webhook" sections
// (watched for changes), the sender, and the fleet's sender service around
// it (ack after the answer, retries, dead letters, feedback, metrics, drain).
func (f *webhookFlags) Service(env *fleet.Env, sc config.SenderOptions) (fleet.Service, error) {
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return nil, fmt.Errorf("--webhook-ca-file: %w", err)
		}
		f.opts.Roots = systemRoots()
		if !f.opts.Roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--webhook-ca-file %s holds no PEM certificate", f.caFile)
		}
	}
	f.opts.Metrics = env.Metrics.Provider
	env.Metrics.Provider.SetAppLabel(env.Metrics.App)
	return providers.Service(env, webhook.Platform, sc, func(apps map[string]webhook.AppConfig) (*webhook.Sender, error) {
		return webhook.New(apps, f.opts)
	})
}
