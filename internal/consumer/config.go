package consumer

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Config describes one durable pull consumer and how to run it. Zero values
// take the documented defaults.
type Config struct {
	// Stream and Durable name the stream and the durable consumer (shared by
	// every replica of the service).
	Stream  string
	Durable string
	// FilterSubjects restrict the consumer; empty means the whole stream.
	FilterSubjects []string
	// Stage names the pipeline stage in dead letters and metrics.
	Stage string

	// MaxInFlight bounds messages handled at once by this process (default 64).
	MaxInFlight int
	// MaxAckPending bounds unacknowledged messages across every replica
	// (default 4 × MaxInFlight, at least 1000).
	MaxAckPending int
	// AckWait is how long the server waits for an ack before redelivering,
	// e.g. after a crash (default 30s). Long handlers extend it with InProgress.
	AckWait time.Duration
	// MaxAttempts is how many deliveries a message gets before it is
	// dead-lettered (default 10).
	MaxAttempts int
	// BackoffBase and BackoffMax shape the retry delay: base·2^(attempt-1),
	// capped at max, with ±20% jitter (defaults 1s and 5m).
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// DrainTimeout bounds how long shutdown waits for in-flight handlers
	// (default 20s); messages still held then are nak'ed for redelivery.
	DrainTimeout time.Duration

	Logger *slog.Logger
}

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("consumer config")

func (c *Config) setDefaults() {
	c.MaxInFlight = cmp.Or(c.MaxInFlight, 64)
	c.MaxAckPending = cmp.Or(c.MaxAckPending, max(4*c.MaxInFlight, 1000))
	c.AckWait = cmp.Or(c.AckWait, 30*time.Second)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, 10)
	c.BackoffBase = cmp.Or(c.BackoffBase, time.Second)
	c.BackoffMax = cmp.Or(c.BackoffMax, 5*time.Minute)
	c.DrainTimeout = cmp.Or(c.DrainTimeout, 20*time.Second)
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
}

// Validate reports missing or inconsistent fields.
func (c Config) Validate() error {
	c.setDefaults()
	switch {
	case c.Stream == "" || c.Durable == "" || c.Stage == "":
		return fmt.Errorf("%w: stream, durable and stage are required", ErrConfig)
	case c.MaxInFlight < 1:
		return fmt.Errorf("%w: max in flight must be positive", ErrConfig)
	case c.MaxAttempts < 1:
		return fmt.Errorf("%w: max attempts must be positive", ErrConfig)
	case c.AckWait < time.Second:
		return fmt.Errorf("%w: ack wait must be at least 1s", ErrConfig)
	case c.BackoffMax < c.BackoffBase:
		return fmt.Errorf("%w: backoff max below backoff base", ErrConfig)
	}
	return nil
}
