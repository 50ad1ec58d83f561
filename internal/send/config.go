package send

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Config tunes a sender service. Zero values take the documented defaults.
type Config struct {
	Platform events.Platform
	// RequestTimeout bounds one job's provider call (default 30s).
	RequestTimeout time.Duration
	// MaxAttempts is the retry budget of a token across redeliveries and
	// re-queued partial jobs (default 10; match the consumer's).
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
	Logger         *slog.Logger
}

// DefaultMaxTokensInFlight is the default of Config.MaxTokensInFlight.
const DefaultMaxTokensInFlight = 5000

func (c *Config) setDefaults() {
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 10
	}
	if c.PauseMin == 0 {
		c.PauseMin = 30 * time.Second
	}
	if c.PauseMax == 0 {
		c.PauseMax = 10 * time.Minute
	}
	if c.RetryBase == 0 {
		c.RetryBase = time.Second
	}
	if c.RetryMax == 0 {
		c.RetryMax = 5 * time.Minute
	}
	if c.RateLimitBudget == 0 {
		c.RateLimitBudget = time.Hour
	}
	if c.BreakerThreshold == 0 {
		c.BreakerThreshold = 10
	}
	if c.BreakerMin == 0 {
		c.BreakerMin = 2 * time.Second
	}
	if c.BreakerMax == 0 {
		c.BreakerMax = time.Minute
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = 30 * time.Second
	}
	if c.MaxTokensInFlight == 0 {
		c.MaxTokensInFlight = DefaultMaxTokensInFlight
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports an unusable configuration.
func (c Config) Validate() error {
	c.setDefaults()
	switch {
	case !c.Platform.Valid():
		return fmt.Errorf("send: unknown platform %q", c.Platform)
	case c.MaxAttempts < 1:
		return fmt.Errorf("send: max attempts must be positive")
	case c.MaxTokensInFlight < 1:
		return fmt.Errorf("send: max tokens in flight must be positive")
	case c.PauseMax < c.PauseMin || c.RetryMax < c.RetryBase || c.BreakerMax < c.BreakerMin:
		return fmt.Errorf("send: a maximum is below its minimum")
	}
	return nil
}
