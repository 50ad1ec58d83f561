package config

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pushfleet/pushfleet/internal/config/invalid"
	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/dispatch"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// Common are the settings every service binary shares.
type Common struct {
	// Platforms are the custom channels declared besides the built-ins.
	Platforms    events.PlatformList
	NATSURL      string
	NATSCreds    string
	NATSUser     string
	NATSPassword string
	NATSNKey     string
	NATSCA       string
	NATSCert     string
	NATSKey      string
	// HTTPAddr serves /metrics, /healthz and /readyz.
	HTTPAddr string
	LogLevel string
	// Provision creates or updates the streams at start.
	Provision bool
	Streams   streams.Config
	// DrainTimeout bounds the graceful shutdown of in-flight work.
	DrainTimeout time.Duration
	// AckWait is how long JetStream waits for a message's ack before it
	// gives the message to another replica (after a crash, say).
	AckWait time.Duration
	// MaxAttempts is every stage's retry budget (--max-attempts): the
	// deliveries of a message, and the tries of a token at its provider,
	// before it is dead-lettered. Zero means the default.
	MaxAttempts int
}

// DefaultLogLevel is the default of --log-level.
const DefaultLogLevel = "info"

// ErrInvalid is wrapped by every configuration error of every package:
// a flag or environment value that does not parse, Validate of Common,
// of the services' settings (dispatch, send, sink), of the consumers and
// of the streams, and the providers' settings. The value lives in
// internal/config/invalid, below the packages that wrap it.
var ErrInvalid = invalid.Err

// Register adds the common flags to fs: the connection to NATS, the HTTP
// endpoints, logging, provisioning, and the shared settings
// (RegisterShared).
func (c *Common) Register(fs *flag.FlagSet, defaultHTTP string) {
	fs.StringVar(&c.NATSURL, "nats-url", nats.DefaultURL, "NATS server URL(s), comma-separated")
	fs.StringVar(&c.NATSCreds, "nats-creds", "", "NATS credentials file (JWT + nkey seed)")
	fs.StringVar(&c.NATSUser, "nats-user", "", "NATS user name")
	fs.StringVar(&c.NATSPassword, "nats-password", "", "NATS password")
	fs.StringVar(&c.NATSNKey, "nats-nkey", "", "NATS nkey seed file")
	fs.StringVar(&c.NATSCA, "nats-ca", "", "CA certificate file to verify the NATS server")
	fs.StringVar(&c.NATSCert, "nats-cert", "", "client certificate file for mutual TLS with NATS")
	fs.StringVar(&c.NATSKey, "nats-key", "", "client key file for mutual TLS with NATS")
	fs.StringVar(&c.HTTPAddr, "http-addr", defaultHTTP, "address of the /metrics, /healthz and /readyz endpoints")
	fs.StringVar(&c.LogLevel, "log-level", DefaultLogLevel, "log level: debug, info, warn or error")
	fs.BoolVar(&c.Provision, "provision", true, "create or update the JetStream streams at start")
	c.RegisterShared(fs, "")
	RegisterVersion(fs)
}

// RegisterShared adds the settings every component of the pipeline
// shares, whatever the process runs: the streams' sizing, the consumers'
// ack wait and drain bound, and the retry budget of every stage. Usage
// texts are prefixed with prefix. Each default is the owning package's.
func (c *Common) RegisterShared(fs *flag.FlagSet, prefix string) {
	fs.IntVar(&c.Streams.Replicas, "stream-replicas", streams.DefaultReplicas, prefix+"replicas of every stream and the KV bucket (3 on a cluster)")
	fs.DurationVar(&c.Streams.DedupWindow, "dedup-window", streams.DefaultDedupWindow, prefix+"how long intent and job ids are remembered for deduplication")
	fs.DurationVar(&c.Streams.FeedbackMaxAge, "feedback-retention", streams.DefaultFeedbackMaxAge, prefix+"how long PUSH_FEEDBACK keeps feedback events")
	fs.DurationVar(&c.Streams.DeadMaxAge, "dead-retention", streams.DefaultDeadMaxAge, prefix+"how long PUSH_DEAD keeps dead letters")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", consumer.DefaultDrainTimeout, prefix+"how long shutdown waits for in-flight work")
	fs.DurationVar(&c.AckWait, "ack-wait", consumer.DefaultAckWait, prefix+"how long a message held by a crashed or cut-off service waits before redelivery (live handlers extend it)")
	// Custom channels are declared as the flag is parsed, before anything
	// provisions streams or validates a platform (docs/channels.md).
	fs.Var(&c.Platforms, "platforms", prefix+dispatch.PlatformsUsage)
	fs.IntVar(&c.MaxAttempts, "max-attempts", consumer.DefaultMaxAttempts, prefix+"deliveries of a message (and tries of a token) before it is dead-lettered; a message redelivered past it without a verdict (crash, timeout) is dead-lettered too")
}

// Validate reports unusable settings; every error wraps ErrInvalid.
func (c *Common) Validate() error {
	if _, err := ParseLevel(c.LogLevel); err != nil {
		return err
	}
	if (c.NATSCert == "") != (c.NATSKey == "") {
		return invalid.Errorf("", "--nats-cert and --nats-key go together")
	}
	if c.NATSUser != "" && c.NATSPassword == "" {
		return invalid.Errorf("", "--nats-user needs --nats-password")
	}
	if c.AckWait != 0 && c.AckWait < consumer.MinAckWait { // zero: the consumer's default
		return invalid.Errorf("", "--ack-wait must be at least %v", consumer.MinAckWait)
	}
	if c.MaxAttempts < 0 { // zero: the default
		return invalid.Errorf("", "--max-attempts must be positive")
	}
	if c.DrainTimeout < 0 {
		return invalid.Errorf("", "--drain-timeout must not be negative")
	}
	return c.Streams.Validate()
}

// ParseLevel parses a log level name.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, invalid.Errorf("", "log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// Logger returns a JSON logger at the configured level.
func (c *Common) Logger(w io.Writer, service string) *slog.Logger {
	l, _ := ParseLevel(c.LogLevel)
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})).With("service", service)
}

// InboxPrefix is the inbox prefix of the binary name: its replies (pulled
// messages, publish acks, API answers) arrive on <prefix>.<random>.
func InboxPrefix(name string) string { return "_INBOX_" + name }

// NATSOptions are the connection options of the binary called name, for
// the configured auth and TLS: ClientOptions plus the credentials.
func (c *Common) NATSOptions(name string, log *slog.Logger) ([]nats.Option, error) {
	opts := ClientOptions(name, log)
	if c.NATSCreds != "" {
		opts = append(opts, nats.UserCredentials(c.NATSCreds))
	}
	if c.NATSUser != "" {
		opts = append(opts, nats.UserInfo(c.NATSUser, c.NATSPassword))
	}
	if c.NATSNKey != "" {
		o, err := nats.NkeyOptionFromSeed(c.NATSNKey)
		if err != nil {
			return nil, invalid.Errorf("", "--nats-nkey: %w", err)
		}
		opts = append(opts, o)
	}
	if c.NATSCA != "" {
		opts = append(opts, nats.RootCAs(c.NATSCA))
	}
	if c.NATSCert != "" {
		opts = append(opts, nats.ClientCert(c.NATSCert, c.NATSKey))
	}
	return opts, nil
}

// ClientOptions are the options of every NATS connection of a pushfleet
// process, whatever its server (an external one, or the all-in-one's
// embedded server): name names the connection and its inbox prefix,
// asynchronous errors and reconnections go to log. Auth and TLS are
// NATSOptions'.
func ClientOptions(name string, log *slog.Logger) []nats.Option {
	return []nats.Option{
		nats.Name(name),
		// Per-service reply subjects (_INBOX_<name>.<random>, which the
		// jetstream package follows for pulls, publish acks and API answers)
		// let the server confine each user's subscriptions to its own
		// replies: with the shared default _INBOX.> every user could read
		// every other's, pulled jobs included. See docs/SECURITY.md.
		nats.CustomInboxPrefix(InboxPrefix(name)),
		// Asynchronous errors (permissions violations, slow consumers) go to
		// the service's JSON log rather than to stderr as raw lines. The
		// server's error names a subject, never a credential.
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			attrs := []any{"err", err}
			if sub != nil {
				attrs = append(attrs, "subject", sub.Subject)
			}
			if errors.Is(err, nats.ErrPermissionViolation) {
				log.Error("nats permissions violation", attrs...)
				return
			}
			log.Warn("nats async error", attrs...)
		}),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		// A frozen server (a paused VM, a partition) is noticed after two
		// missed pings: 20s instead of nats.go's default 4 minutes. The
		// consumer runner notices sooner by its heartbeats; this is the
		// backstop for every other wait (KV reads, publishes).
		nats.PingInterval(10 * time.Second),
		nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted()) }),
		nats.LameDuckModeHandler(func(nc *nats.Conn) { log.Info("nats server entering lame duck mode", "url", nc.ConnectedUrlRedacted()) }),
	}
}
