package send

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/config/invalid"
	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// Config tunes a sender service. Zero values take the documented defaults.
type Config struct {
	Platform events.Platform
	// RequestTimeout bounds one job's provider call (default 30s).
	RequestTimeout time.Duration
	// MaxAttempts is the retry budget of a token across redeliveries and
	// re-queued partial jobs (default consumer.DefaultMaxAttempts, 10: the
	// fleet gives both the same --max-attempts).
	MaxAttempts int
	// PauseMin and PauseMax bound how long an app's sends pause after its
	// credentials were rejected; the pause doubles while rejections go on
	// (defaults 30s and 10m).
	PauseMin, PauseMax time.Duration
	// RetryBase and RetryMax shape the delay of re-queued partial jobs
	// (defaults 1s and 5m).
	RetryBase, RetryMax time.Duration
	// RateLimitBudget is how long after an intent was accepted its tokens
	// may keep being re-queued on rate limits without spending retry
	// attempts (default 1h): a throttled provider delays pushes, it does not
	// fail them. Past it, rate limits count as attempts.
	RateLimitBudget time.Duration
	// BreakerThreshold consecutive jobs failing with the provider
	// unavailable open the circuit breaker (default 10); it stays open for
	// BreakerMin, doubling up to BreakerMax while probes fail (defaults 2s
	// and 1m).
	BreakerThreshold       int
	BreakerMin, BreakerMax time.Duration
	// MaxTokensInFlight bounds the tokens this process has at its provider
	// at once, across jobs (default DefaultMaxTokensInFlight): the jobs in
	// flight bound the number of provider calls, this bounds their size, so
	// many one-token jobs and a few large ones are both kept busy. A job
	// larger than the bound runs alone.
	MaxTokensInFlight int
	// PublishTimeout bounds waiting for the acknowledgements of a job's
	// feedback events and re-queued tokens (default 30s): one lost with a
	// failed server must not hold the job forever; the job is retried.
	PublishTimeout time.Duration
	// IDs, when set, records the jobs taken (events.JobIDsBucket), so that
	// a job stored again under its id after its stream forgot it (a server
	// restart, a new leader) is not sent twice; nil leaves dedup to the
	// stream's Nats-Msg-Id alone.
	IDs    JobIDs
	Logger *slog.Logger
}

// JobIDs is the bucket of jobs taken: jetstream.KeyValue satisfies it.
type JobIDs interface {
	Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error)
	Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error)
}

// Defaults of Config and of a sender's consumers, declared once:
// setDefaults applies them and the command-line flags (internal/config)
// show them.
const (
	DefaultRequestTimeout   = 30 * time.Second
	DefaultPauseMin         = 30 * time.Second
	DefaultPauseMax         = 10 * time.Minute
	DefaultRetryBase        = time.Second
	DefaultRetryMax         = 5 * time.Minute
	DefaultRateLimitBudget  = time.Hour
	DefaultBreakerThreshold = 10
	DefaultBreakerMin       = 2 * time.Second
	DefaultBreakerMax       = time.Minute
	DefaultPublishTimeout   = 30 * time.Second
	// DefaultMaxTokensInFlight is the default of Config.MaxTokensInFlight
	// (--sender-tokens-in-flight).
	DefaultMaxTokensInFlight = 5000
	// DefaultMaxInFlight is the jobs one sender process handles at once
	// (--sender-in-flight): enough one-token jobs to hide a provider's
	// round trip (a token at APNs for 20 ms needs 160 in flight for
	// 8,000/s); MaxTokensInFlight bounds what large jobs hold.
	DefaultMaxInFlight = 256
)

func (c *Config) setDefaults() {
	c.RequestTimeout = cmp.Or(c.RequestTimeout, DefaultRequestTimeout)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, consumer.DefaultMaxAttempts)
	c.PauseMin = cmp.Or(c.PauseMin, DefaultPauseMin)
	c.PauseMax = cmp.Or(c.PauseMax, DefaultPauseMax)
	c.RetryBase = cmp.Or(c.RetryBase, DefaultRetryBase)
	c.RetryMax = cmp.Or(c.RetryMax, DefaultRetryMax)
	c.RateLimitBudget = cmp.Or(c.RateLimitBudget, DefaultRateLimitBudget)
	c.BreakerThreshold = cmp.Or(c.BreakerThreshold, DefaultBreakerThreshold)
	c.BreakerMin = cmp.Or(c.BreakerMin, DefaultBreakerMin)
	c.BreakerMax = cmp.Or(c.BreakerMax, DefaultBreakerMax)
	c.PublishTimeout = cmp.Or(c.PublishTimeout, DefaultPublishTimeout)
	c.MaxTokensInFlight = cmp.Or(c.MaxTokensInFlight, DefaultMaxTokensInFlight)
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
}

// WithDefaults returns c with every zero field set to its default: the
// configuration a sender service built from c runs with.
func (c Config) WithDefaults() Config {
	c.setDefaults()
	return c
}

// Validate reports an unusable configuration. Every error wraps
// config.ErrInvalid.
func (c Config) Validate() error {
	c.setDefaults()
	switch {
	case !c.Platform.Valid():
		return invalid.Errorf("send", "unknown platform %q", c.Platform)
	case c.MaxAttempts < 1:
		return invalid.Errorf("send", "max attempts must be positive")
	case c.MaxTokensInFlight < 1:
		return invalid.Errorf("send", "max tokens in flight must be positive")
	case c.RequestTimeout < 0 || c.PublishTimeout < 0:
		return invalid.Errorf("send", "request and publish timeouts must not be negative")
	case c.PauseMax < c.PauseMin || c.RetryMax < c.RetryBase || c.BreakerMax < c.BreakerMin:
		return invalid.Errorf("send", "a maximum is below its minimum")
	}
	return nil
}
