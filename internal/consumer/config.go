package consumer

import (
	"cmp"
	"log/slog"
	"time"

	"github.com/pushfleet/pushfleet/internal/config/invalid"
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

	// MaxInFlight bounds messages handled at once by this process (default
	// DefaultMaxInFlight, 64).
	MaxInFlight int
	// MaxAckPending bounds unacknowledged messages across every replica
	// (default 4 × MaxInFlight, at least DefaultMinMaxAckPending).
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

// Defaults of Config, declared once: setDefaults applies them and the
// command-line flags (internal/config) show them.
const (
	DefaultMaxInFlight = 64
	// DefaultMinMaxAckPending is the least default MaxAckPending.
	DefaultMinMaxAckPending = 1000
	DefaultAckWait          = 30 * time.Second
	DefaultMaxAttempts      = 10
	DefaultBackoffBase      = time.Second
	DefaultBackoffMax       = 5 * time.Minute
	DefaultDrainTimeout     = 20 * time.Second
)

// MinAckWait is the least AckWait: the keep-alive of a live handler
// renews the ack wait every half of it.
const MinAckWait = time.Second

// MinDeadLetterBytes is the least MaxDeadLetterBytes: room for a dead
// letter's reason, location and a payload prefix.
const MinDeadLetterBytes = 16 << 10

// ErrConfig is the sentinel every configuration error wraps: the one of
// every pushfleet package (config.ErrInvalid), named here as before.
var ErrConfig = invalid.Err

func (c *Config) setDefaults() {
	c.MaxInFlight = cmp.Or(c.MaxInFlight, DefaultMaxInFlight)
	c.MaxAckPending = cmp.Or(c.MaxAckPending, max(4*c.MaxInFlight, DefaultMinMaxAckPending))
	c.AckWait = cmp.Or(c.AckWait, DefaultAckWait)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, DefaultMaxAttempts)
	c.MaxDeadLetterBytes = cmp.Or(c.MaxDeadLetterBytes, events.DefaultMaxDeadLetterBytes)
	c.BackoffBase = cmp.Or(c.BackoffBase, DefaultBackoffBase)
	c.BackoffMax = cmp.Or(c.BackoffMax, DefaultBackoffMax)
	c.DrainTimeout = cmp.Or(c.DrainTimeout, DefaultDrainTimeout)
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
}

// WithDefaults returns c with every zero field set to its default: the
// configuration a Runner built from c runs with.
func (c Config) WithDefaults() Config {
	c.setDefaults()
	return c
}

// Validate reports missing or inconsistent fields.
func (c Config) Validate() error {
	c.setDefaults()
	switch {
	case c.Stream == "" || c.Durable == "" || c.Stage == "":
		return invalid.Errorf("consumer", "stream, durable and stage are required")
	case c.MaxInFlight < 1:
		return invalid.Errorf("consumer", "max in flight must be positive")
	case c.MaxAttempts < 1:
		return invalid.Errorf("consumer", "max attempts must be positive")
	case c.MaxDeadLetterBytes < MinDeadLetterBytes:
		return invalid.Errorf("consumer", "max dead-letter bytes must be at least %d", MinDeadLetterBytes)
	case c.AckWait < MinAckWait:
		return invalid.Errorf("consumer", "ack wait must be at least %v", MinAckWait)
	case c.BackoffMax < c.BackoffBase:
		return invalid.Errorf("consumer", "backoff max below backoff base")
	}
	return nil
}
