package send

import (
	"cmp"
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
	c.RequestTimeout = cmp.Or(c.RequestTimeout, 30*time.Second)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, 10)
	c.PauseMin = cmp.Or(c.PauseMin, 30*time.Second)
	c.PauseMax = cmp.Or(c.PauseMax, 10*time.Minute)
	c.RetryBase = cmp.Or(c.RetryBase, time.Second)
	c.RetryMax = cmp.Or(c.RetryMax, 5*time.Minute)
	c.RateLimitBudget = cmp.Or(c.RateLimitBudget, time.Hour)
	c.BreakerThreshold = cmp.Or(c.BreakerThreshold, 10)
	c.BreakerMin = cmp.Or(c.BreakerMin, 2*time.Second)
	c.BreakerMax = cmp.Or(c.BreakerMax, time.Minute)
	c.PublishTimeout = cmp.Or(c.PublishTimeout, 30*time.Second)
	c.MaxTokensInFlight = cmp.Or(c.MaxTokensInFlight, DefaultMaxTokensInFlight)
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
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
