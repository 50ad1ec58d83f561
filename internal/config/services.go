package config

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/pushfleet/pushfleet/internal/config/invalid"
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
	fs.IntVar(&d.MaxInFlight, "dispatcher-in-flight", dispatch.DefaultMaxInFlight, "intents handled at once by this process")
	fs.IntVar(&d.Dispatch.BatchAPNs, "batch-apns", dispatch.DefaultBatchAPNs, "most APNs tokens per delivery job")
	fs.IntVar(&d.Dispatch.BatchFCM, "batch-fcm", dispatch.DefaultBatchFCM, fmt.Sprintf("most FCM tokens per delivery job (at most %d)", dispatch.MaxBatchFCM))
	fs.IntVar(&d.Dispatch.BatchMi, "batch-mi", dispatch.DefaultBatchMi, "most MiPush regids per delivery job")
	fs.IntVar(&d.Dispatch.BatchHMS, "batch-hms", dispatch.DefaultBatchHMS, fmt.Sprintf("most Push Kit (hms) tokens per delivery job (at most %d)", dispatch.MaxBatchHMS))
	fs.IntVar(&d.Dispatch.BatchWebPush, "batch-webpush", dispatch.DefaultBatchWebPush, "most Web Push subscriptions per delivery job")
	fs.IntVar(&d.Dispatch.Limits.MaxTokens, "max-tokens", events.DefaultLimits.MaxTokens, "most explicit tokens per intent")
	fs.IntVar(&d.Dispatch.Limits.MaxIntentBytes, "max-intent-bytes", events.DefaultLimits.MaxIntentBytes,
		"largest intent accepted, in bytes (keep it below the NATS server's max_payload, so that a larger one is dead-lettered with its reason)")
	fs.DurationVar(&d.Dispatch.ScheduleHorizon, "schedule-horizon", dispatch.DefaultScheduleHorizon,
		"how far ahead send_at may be; an intent due later is dead-lettered at intake")
	d.Dispatch.Linger = dispatch.DefaultLinger
	fs.Var((*lingerFlag)(&d.Dispatch.Linger), "coalesce-linger", "longest an intent's last, partial job waits for other intents' "+
		"tokens of the same app and platform to share one job, under load only (an idle dispatcher publishes at once; 0: never coalesce; at most 1s)")
	fs.Func("apps", "comma-separated known apps: an intent for another app is dead-lettered at intake (empty: every app)",
		func(s string) error {
			d.Dispatch.Apps = splitList(s)
			return nil
		})
	if fs.Lookup("apps-file") == nil {
		fs.StringVar(&d.AppsFile, "apps-file", "", "apps configuration file: its app names are known apps, as with --apps")
	}
}

// lingerFlag is --coalesce-linger: a duration where 0 turns coalescing
// off, which dispatch.Config spells as a negative linger (its zero value
// takes the default).
type lingerFlag time.Duration

func (l *lingerFlag) String() string {
	if l == nil || *l < 0 {
		return "0s"
	}
	return time.Duration(*l).String()
}

func (l *lingerFlag) Set(s string) error {
	v, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return err
	case v < 0:
		return fmt.Errorf("%v: must not be negative", v)
	case v == 0:
		v = -1
	}
	*l = lingerFlag(v)
	return nil
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

// Validate reports unusable dispatcher settings; every error wraps ErrInvalid.
func (d *Dispatcher) Validate() error {
	if d.MaxInFlight < 0 {
		return invalid.Errorf("", "--dispatcher-in-flight must be positive")
	}
	return d.Dispatch.Validate()
}

// SenderOptions are the settings of a sender service (internal/send and
// its consumers) besides its provider's own, which internal/providers holds.
type SenderOptions struct {
	Send        send.Config
	MaxInFlight int
	// AppsFile is the apps configuration (per-app provider credentials).
	AppsFile string
	// AppsReload is how often the apps file is checked for changes.
	AppsReload time.Duration
}

// DefaultAppsReload is the default of --apps-reload.
const DefaultAppsReload = 10 * time.Second

// Register adds the sender's flags to fs. --apps-file is added only when
// fs has none yet: the all-in-one registers its own (and passes it on).
func (s *SenderOptions) Register(fs *flag.FlagSet) {
	s.RegisterLimits(fs, "")
	if fs.Lookup("apps-file") == nil {
		fs.StringVar(&s.AppsFile, "apps-file", "", "apps configuration file (YAML or JSON) with per-app provider credentials")
	}
	fs.DurationVar(&s.AppsReload, "apps-reload", DefaultAppsReload, "how often the apps file is checked for changes (0: never)")
}

// RegisterLimits adds the bounds of a sender's work: --sender-in-flight
// (jobs), --sender-tokens-in-flight and --request-timeout, their usage
// prefixed with prefix.
func (s *SenderOptions) RegisterLimits(fs *flag.FlagSet, prefix string) {
	fs.IntVar(&s.MaxInFlight, "sender-in-flight", send.DefaultMaxInFlight, prefix+"jobs handled at once per sender")
	fs.IntVar(&s.Send.MaxTokensInFlight, "sender-tokens-in-flight", send.DefaultMaxTokensInFlight,
		prefix+"tokens at the provider at once per sender, across jobs (a larger job goes alone)")
	fs.DurationVar(&s.Send.RequestTimeout, "request-timeout", send.DefaultRequestTimeout, prefix+"bound on one job's provider call")
}

// Validate reports unusable sender settings of its own; Send is validated
// with its platform, by send.New. Every error wraps ErrInvalid.
func (s *SenderOptions) Validate() error {
	if s.MaxInFlight < 0 {
		return invalid.Errorf("", "--sender-in-flight must be positive")
	}
	if s.AppsReload < 0 {
		return invalid.Errorf("", "--apps-reload must not be negative")
	}
	return nil
}

// Sink are the feedback-sink's settings.
type Sink struct {
	Sink        sink.Config
	MaxInFlight int
}

// Register adds the sink's flags to fs.
func (s *Sink) Register(fs *flag.FlagSet) {
	fs.IntVar(&s.MaxInFlight, "sink-in-flight", sink.DefaultMaxInFlight, "feedback messages (each up to 1,000 per-token events) handled at once by this process")
	fs.DurationVar(&s.Sink.FlushInterval, "success-flush", sink.DefaultFlushInterval, "how often last-success times of delivered tokens are written")
}

// Validate reports unusable sink settings; every error wraps ErrInvalid.
func (s *Sink) Validate() error {
	if s.MaxInFlight < 0 {
		return invalid.Errorf("", "--sink-in-flight must be positive")
	}
	return s.Sink.Validate()
}
