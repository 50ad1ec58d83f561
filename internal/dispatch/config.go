package dispatch

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/config/invalid"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// DefaultScheduleHorizon is how far ahead send_at may be (30 days) unless
// Config.ScheduleHorizon says otherwise.
const DefaultScheduleHorizon = events.DefaultScheduleHorizon

// Defaults of Config and of the dispatcher's consumers, declared once:
// setDefaults applies them and the command-line flags (internal/config)
// show them.
const (
	DefaultBatchAPNs = 100
	DefaultBatchFCM  = MaxBatchFCM
	DefaultBatchMi   = 1000
	// DefaultBatchHMS is Push Kit's most tokens per request (MaxBatchHMS).
	DefaultBatchHMS = MaxBatchHMS
	// DefaultBatchWebPush: Web Push takes one subscription per request, so
	// the batch only amortizes JetStream work and keeps jobs small (a
	// subscription is 200-600 bytes).
	DefaultBatchWebPush = 100
	// DefaultBatchCustom is the most tokens per job of a custom platform
	// (--batch-custom): a channel's sender takes one token per request, so
	// the batch only amortizes JetStream work, as for APNs.
	DefaultBatchCustom    = 100
	DefaultPublishTimeout = 30 * time.Second
	// DefaultMaxInFlight is the intents one dispatcher process handles at
	// once (--dispatcher-in-flight).
	DefaultMaxInFlight = 32
)

// MaxBatchFCM is the most FCM tokens of one job: what one SendEach call takes.
const MaxBatchFCM = 500

// MaxBatchHMS is the most Push Kit tokens of one job: what one
// messages:send request takes (pkg/provider/hms MaxBatch).
const MaxBatchHMS = 1000

// IntentIDs remembers the intent ids taken during the dedup window: the KV
// bucket push_intent_ids (events.IntentIDsBucket), whose max age is the
// window. jetstream.KeyValue satisfies it.
type IntentIDs interface {
	Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error)
	Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error)
}

// Config tunes the dispatcher. Zero values take the documented defaults.
type Config struct {
	// Limits bound what an intent may carry (default events.DefaultLimits).
	Limits events.Limits
	// BatchAPNs, BatchFCM and BatchMi are the most tokens per job. APNs takes
	// one token per HTTP/2 request, so its batch only amortizes JetStream
	// work (default DefaultBatchAPNs, 100); FCM's SendEach takes 500
	// (MaxBatchFCM, the default and maximum); MiPush takes a
	// comma-separated list of 1000 (DefaultBatchMi).
	BatchAPNs, BatchFCM, BatchMi int
	// BatchHMS is the most Push Kit tokens per job (default and maximum
	// MaxBatchHMS, 1000); BatchWebPush the most Web Push subscriptions
	// (default DefaultBatchWebPush, 100).
	BatchHMS, BatchWebPush int
	// BatchCustom is the most tokens per job of a custom platform (default
	// DefaultBatchCustom).
	BatchCustom int
	// Platforms are the custom platforms (channels) this dispatcher routes
	// to, beside the three built-ins: "--platforms webhook,sms". Setting it
	// as a flag declares each name in the process as it is parsed
	// (events.PlatformList), before the streams are provisioned; a Config
	// built in code calls Declare. Validate refuses a name not declared.
	// Every declared custom platform is routed, listed here or not: the
	// declaration is per process (docs/channels.md).
	Platforms events.PlatformList
	// PublishTimeout bounds each wait for the acknowledgements of published
	// jobs, schedules or feedback events (default 30s); the dispatch as a
	// whole is not bounded, so that a huge tag can be resolved.
	PublishTimeout time.Duration
	// ScheduleHorizon is how far ahead send_at may be (default
	// DefaultScheduleHorizon); an intent due later is dead-lettered at intake.
	ScheduleHorizon time.Duration
	// Apps, when set, are the only apps accepted: an intent for another app
	// is dead-lettered at intake, and metrics label only these apps.
	Apps []string
	// Linger is the longest the last, partial job of an intent waits for
	// other intents' tokens of the same app and platform, to be published
	// as one coalesced job (default DefaultLinger, 2ms; negative: never
	// coalesce). An idle dispatcher publishes at once, whatever the linger.
	Linger time.Duration
	// IDs, when set, makes dedup per app survive restarts for the dedup
	// window; nil leaves dedup to the stream's Nats-Msg-Id alone.
	IDs    IntentIDs
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	c.BatchAPNs = cmp.Or(c.BatchAPNs, DefaultBatchAPNs)
	c.BatchFCM = cmp.Or(c.BatchFCM, DefaultBatchFCM)
	c.BatchMi = cmp.Or(c.BatchMi, DefaultBatchMi)
	c.BatchHMS = cmp.Or(c.BatchHMS, DefaultBatchHMS)
	c.BatchWebPush = cmp.Or(c.BatchWebPush, DefaultBatchWebPush)
	c.BatchCustom = cmp.Or(c.BatchCustom, DefaultBatchCustom)
	c.PublishTimeout = cmp.Or(c.PublishTimeout, DefaultPublishTimeout)
	c.ScheduleHorizon = cmp.Or(c.ScheduleHorizon, DefaultScheduleHorizon)
	c.Linger = cmp.Or(c.Linger, DefaultLinger)
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
}

// WithDefaults returns c with every zero field set to its default: the
// configuration a dispatcher built from c runs with.
func (c Config) WithDefaults() Config {
	c.setDefaults()
	return c
}

// Validate reports batch sizes the providers would reject, a negative
// horizon and app names that cannot be subject tokens. Every error wraps
// config.ErrInvalid.
func (c Config) Validate() error {
	c.setDefaults()
	switch {
	case c.BatchAPNs < 1 || c.BatchFCM < 1 || c.BatchMi < 1 || c.BatchHMS < 1 || c.BatchWebPush < 1 || c.BatchCustom < 1:
		return invalid.Errorf("dispatch", "batch sizes must be positive")
	case c.BatchFCM > MaxBatchFCM:
		return invalid.Errorf("dispatch", "FCM batch %d exceeds SendEach's %d", c.BatchFCM, MaxBatchFCM)
	case c.BatchHMS > MaxBatchHMS:
		return invalid.Errorf("dispatch", "HMS batch %d exceeds Push Kit's %d tokens per request", c.BatchHMS, MaxBatchHMS)
	case c.ScheduleHorizon < time.Second:
		return invalid.Errorf("dispatch", "schedule horizon %v must be at least 1s", c.ScheduleHorizon)
	case c.PublishTimeout < 0:
		return invalid.Errorf("dispatch", "publish timeout %v must not be negative", c.PublishTimeout)
	case c.Linger > time.Second:
		return invalid.Errorf("dispatch", "coalesce linger %v: at most 1s (it delays every push under load)", c.Linger)
	}
	for _, p := range c.Platforms {
		if err := events.CheckPlatformName(string(p)); err != nil {
			return invalid.Errorf("dispatch", "--platforms: %v", err)
		}
		if !p.Custom() {
			return invalid.Errorf("dispatch", "custom platform %q is not declared in this process (Config.Declare, or --platforms)", p)
		}
	}
	for _, app := range c.Apps {
		if !events.ValidApp(app) {
			return invalid.Errorf("dispatch", "app %q: names are 1-64 characters of A-Z a-z 0-9 _ -", app)
		}
	}
	return nil
}

// PlatformsUsage is the --platforms flag's help.
const PlatformsUsage = "custom platforms (channels) to deliver to besides apns, fcm, mi, hms and webpush, comma-separated (webhook,sms): " +
	"each gets the streams PUSH_SEND_<NAME> and PUSH_RETRY_<NAME> and a sender of its own (docs/channels.md)"

// Declare declares c.Platforms in this process (events.DeclarePlatform):
// for a Config built in code; the --platforms flag declares as it parses.
func (c Config) Declare() error {
	if err := events.DeclarePlatforms(c.Platforms...); err != nil {
		return invalid.Errorf("dispatch", "--platforms: %v", err)
	}
	return nil
}

func (c *Config) batch(p events.Platform) int {
	switch p {
	case events.APNs:
		return c.BatchAPNs
	case events.FCM:
		return c.BatchFCM
	case events.Mi:
		return c.BatchMi
	case events.HMS:
		return c.BatchHMS
	case events.WebPush:
		return c.BatchWebPush
	}
	return c.BatchCustom
}
