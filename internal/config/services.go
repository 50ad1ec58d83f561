package config

import (
	"flag"
	"strings"
	"time"

	"github.com/pushfleet/pushfleet/internal/dispatch"
	"github.com/pushfleet/pushfleet/internal/send"
	"github.com/pushfleet/pushfleet/internal/sink"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// Dispatcher are the dispatcher's settings.
type Dispatcher struct {
	Dispatch    dispatch.Config
	MaxInFlight int
	// AppsFile, when set, names the known apps (Dispatch.Apps gets its app
	// names, besides --apps); the dispatcher reads no credentials from it.
	AppsFile string
}

// Register adds the dispatcher's flags to fs. --apps-file is added only when
// fs has none yet: the all-in-one registers its own (and passes it on).
func (d *Dispatcher) Register(fs *flag.FlagSet) {
	fs.IntVar(&d.MaxInFlight, "dispatcher-in-flight", 32, "intents handled at once by this process")
	fs.IntVar(&d.Dispatch.BatchAPNs, "batch-apns", 100, "most APNs tokens per delivery job")
	fs.IntVar(&d.Dispatch.BatchFCM, "batch-fcm", 500, "most FCM tokens per delivery job (at most 500)")
	fs.IntVar(&d.Dispatch.BatchMi, "batch-mi", 1000, "most MiPush regids per delivery job")
	fs.IntVar(&d.Dispatch.Limits.MaxTokens, "max-tokens", 10000, "most explicit tokens per intent")
	fs.IntVar(&d.Dispatch.Limits.MaxIntentBytes, "max-intent-bytes", events.DefaultLimits.MaxIntentBytes,
		"largest intent accepted, in bytes (keep it below the NATS server's max_payload, so that a larger one is dead-lettered with its reason)")
	fs.DurationVar(&d.Dispatch.ScheduleHorizon, "schedule-horizon", dispatch.DefaultScheduleHorizon,
		"how far ahead send_at may be; an intent due later is dead-lettered at intake")
	fs.Func("apps", "comma-separated known apps: an intent for another app is dead-lettered at intake (empty: every app)",
		func(s string) error {
			d.Dispatch.Apps = splitList(s)
			return nil
		})
	if fs.Lookup("apps-file") == nil {
		fs.StringVar(&d.AppsFile, "apps-file", "", "apps configuration file: its app names are known apps, as with --apps")
	}
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Sender are a provider sender's settings besides the provider's own.
type Sender struct {
	Send        send.Config
	MaxInFlight int
	// AppsFile is the apps configuration (per-app provider credentials).
	AppsFile string
	// AppsReload is how often the apps file is checked for changes.
	AppsReload time.Duration
}

// DefaultSenderInFlight is the default of --sender-in-flight: enough
// one-token jobs to hide a provider's round trip (a token at APNs for 20 ms
// needs 160 in flight for 8,000/s); --sender-tokens-in-flight bounds what
// large jobs hold.
const DefaultSenderInFlight = 256

// Register adds the sender's flags to fs.
func (s *Sender) Register(fs *flag.FlagSet) {
	s.RegisterInFlight(fs, "")
	fs.DurationVar(&s.Send.RequestTimeout, "request-timeout", 30*time.Second, "bound on one job's provider call")
	fs.StringVar(&s.AppsFile, "apps-file", "", "apps configuration file (YAML or JSON) with per-app provider credentials")
	fs.DurationVar(&s.AppsReload, "apps-reload", 10*time.Second, "how often the apps file is checked for changes (0: never)")
}

// RegisterInFlight adds the two bounds of a sender's concurrent work,
// --sender-in-flight (jobs) and --sender-tokens-in-flight, their usage
// prefixed with prefix.
func (s *Sender) RegisterInFlight(fs *flag.FlagSet, prefix string) {
	fs.IntVar(&s.MaxInFlight, "sender-in-flight", DefaultSenderInFlight, prefix+"jobs handled at once per sender")
	fs.IntVar(&s.Send.MaxTokensInFlight, "sender-tokens-in-flight", send.DefaultMaxTokensInFlight,
		prefix+"tokens at the provider at once per sender, across jobs (a larger job goes alone)")
}

// Sink are the feedback-sink's settings.
type Sink struct {
	Sink        sink.Config
	MaxInFlight int
}

// Register adds the sink's flags to fs.
func (s *Sink) Register(fs *flag.FlagSet) {
	fs.IntVar(&s.MaxInFlight, "sink-in-flight", 64, "feedback events handled at once by this process")
	fs.DurationVar(&s.Sink.FlushInterval, "success-flush", 5*time.Second, "how often last-success times of delivered tokens are written")
}
