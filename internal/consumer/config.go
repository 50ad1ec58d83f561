package consumer

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
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
	// dead-lettered (default 10): after MaxAttempts Retry verdicts, or on a
	// delivery beyond MaxAttempts whatever happened to the earlier ones
	// (a handler that crashed the process or outlived AckWait). The server
	// never gives up on a message by itself (MaxDeliver is unlimited).
	MaxAttempts int
	// MaxDeadLetterBytes bounds an encoded dead letter (default
	// events.DefaultMaxDeadLetterBytes, 512 KiB); a larger one is truncated
	// (events.DeadLetter.Encode). When the JetStream handle exposes its
	// connection, the server's max_payload less headroom for the headers
	// lowers it further.
	MaxDeadLetterBytes int
	// BackoffBase and BackoffMax shape the retry delay: base·2^(attempt-1),
	// capped at max, with ±20% jitter (defaults 1s and 5m). A dead letter
	// whose publish failed is retried with the same backoff, forever.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// DrainTimeout bounds how long shutdown waits for in-flight handlers
	// (default 20s); messages still held then are nak'ed for redelivery.
	DrainTimeout time.Duration

	Logger *slog.Logger
}

// DefaultMaxAttempts is the default of MaxAttempts (and of --max-attempts).
const DefaultMaxAttempts = 10

// MinDeadLetterBytes is the least MaxDeadLetterBytes: room for a dead
// letter's reason, location and a payload prefix.
const MinDeadLetterBytes = 16 << 10

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("consumer config")

func (c *Config) setDefaults() {
	c.MaxInFlight = cmp.Or(c.MaxInFlight, 64)
	c.MaxAckPending = cmp.Or(c.MaxAckPending, max(4*c.MaxInFlight, 1000))
	c.AckWait = cmp.Or(c.AckWait, 30*time.Second)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, DefaultMaxAttempts)
	c.MaxDeadLetterBytes = cmp.Or(c.MaxDeadLetterBytes, events.DefaultMaxDeadLetterBytes)
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
	case c.MaxDeadLetterBytes < MinDeadLetterBytes:
		return fmt.Errorf("%w: max dead-letter bytes must be at least %d", ErrConfig, MinDeadLetterBytes)
	case c.AckWait < time.Second:
		return fmt.Errorf("%w: ack wait must be at least 1s", ErrConfig)
	case c.BackoffMax < c.BackoffBase:
		return fmt.Errorf("%w: backoff max below backoff base", ErrConfig)
	}
	return nil
}
