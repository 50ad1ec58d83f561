package dispatch

import (
	"cmp"
	"fmt"
	"log/slog"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Config tunes the dispatcher. Zero values take the documented defaults.
type Config struct {
	// Limits bound what an intent may carry (default events.DefaultLimits).
	Limits events.Limits
	// BatchAPNs, BatchFCM and BatchMi are the most tokens per job. APNs takes
	// one token per HTTP/2 request, so its batch only amortizes JetStream
	// work (default 100); FCM's SendEach takes 500 (default and maximum);
	// MiPush takes a comma-separated list of 1000 (default).
	BatchAPNs, BatchFCM, BatchMi int
	// PublishTimeout bounds each wait for the acknowledgements of published
	// jobs or feedback events (default 30s); the dispatch as a whole is not
	// bounded, so that a huge tag can be resolved.
	PublishTimeout time.Duration
	Logger         *slog.Logger
}

func (c *Config) setDefaults() {
	c.BatchAPNs = cmp.Or(c.BatchAPNs, 100)
	c.BatchFCM = cmp.Or(c.BatchFCM, 500)
	c.BatchMi = cmp.Or(c.BatchMi, 1000)
	c.PublishTimeout = cmp.Or(c.PublishTimeout, 30*time.Second)
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
}

// Validate reports batch sizes the providers would reject.
func (c Config) Validate() error {
	c.setDefaults()
	switch {
	case c.BatchAPNs < 1 || c.BatchFCM < 1 || c.BatchMi < 1:
		return fmt.Errorf("dispatch: batch sizes must be positive")
	case c.BatchFCM > 500:
		return fmt.Errorf("dispatch: FCM batch %d exceeds SendEach's 500", c.BatchFCM)
	}
	return nil
}

func (c *Config) batch(p events.Platform) int {
	switch p {
	case events.APNs:
		return c.BatchAPNs
	case events.FCM:
		return c.BatchFCM
	}
	return c.BatchMi
}
