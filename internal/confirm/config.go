package confirm

import (
	"cmp"
	"log/slog"
	"time"

	"github.com/pushfleet/pushfleet/internal/config/invalid"
)

// Defaults of Config.
const (
	DefaultPublishTimeout = 30 * time.Second
	// DefaultResendBatch is the most tokens of one re-send intent; larger
	// re-sends are split (events.ResendID numbers the parts).
	DefaultResendBatch = 500
	// MaxResendBatch keeps a re-send intent within the intent limits
	// (events.DefaultLimits.MaxTokens).
	MaxResendBatch = 10000
	// DefaultNotDeliveredRetry is how long a confirmation for a token not
	// known as delivered yet waits before it is tried again (its delivered
	// outcome may still be on its way).
	DefaultNotDeliveredRetry = time.Second
)

// Config tunes the service. Zero values take the defaults.
type Config struct {
	// PublishTimeout bounds each wait for a publish or KV acknowledgement.
	PublishTimeout time.Duration
	// ResendBatch is the most tokens of one re-send intent.
	ResendBatch int
	// NotDeliveredRetry is the least delay before a confirmation that came
	// before its token's delivered outcome is tried again.
	NotDeliveredRetry time.Duration
	Logger            *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	c.PublishTimeout = cmp.Or(c.PublishTimeout, DefaultPublishTimeout)
	c.ResendBatch = cmp.Or(c.ResendBatch, DefaultResendBatch)
	c.NotDeliveredRetry = cmp.Or(c.NotDeliveredRetry, DefaultNotDeliveredRetry)
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	if c.Now == nil {
		c.Now = time.Now
	}
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	c.setDefaults()
	return c
}

// Validate reports settings the service cannot run with. Errors wrap
// config.ErrInvalid.
func (c Config) Validate() error {
	c.setDefaults()
	switch {
	case c.PublishTimeout < 0:
		return invalid.Errorf("confirm", "publish timeout %v must not be negative", c.PublishTimeout)
	case c.ResendBatch < 1 || c.ResendBatch > MaxResendBatch:
		return invalid.Errorf("confirm", "re-send batch %d must be 1..%d", c.ResendBatch, MaxResendBatch)
	case c.NotDeliveredRetry < 0:
		return invalid.Errorf("confirm", "not-delivered retry %v must not be negative", c.NotDeliveredRetry)
	}
	return nil
}
