package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	neturl "net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/dispatch"
	"github.com/pushfleet/pushfleet/internal/health"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/send"
	"github.com/pushfleet/pushfleet/internal/sink"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// Env is what every service of a process shares.
type Env struct {
	NC      *nats.Conn
	JS      jetstream.JetStream
	Metrics *metrics.Fleet
	Health  *health.Server
	Logger  *slog.Logger
	// DrainTimeout bounds the graceful stop of in-flight work (zero:
	// consumer.DefaultDrainTimeout).
	DrainTimeout time.Duration
	// AckWait is every consumer's ack wait (zero: consumer.DefaultAckWait).
	AckWait time.Duration
	// MaxAttempts is the retry budget of every stage (--max-attempts; zero:
	// consumer.DefaultMaxAttempts): every consumer runner's MaxAttempts and
	// the senders' tries per token.
	MaxAttempts int
	// NATSURL is where other processes reach the process's server: the
	// external server's URL(s), or the embedded server's listener; empty
	// when the embedded server is in-process only. Process.Run sets it.
	NATSURL string

	dial func() (*nats.Conn, jetstream.JetStream, error)

	mu       sync.Mutex
	cleanups []func()
	built    Built
}

// NewEnv is the Env of a process configured by c: the settings every
// service shares come from the common flags, here and nowhere else.
func NewEnv(c *config.Common, nc *nats.Conn, js jetstream.JetStream, m *metrics.Fleet, hs *health.Server, log *slog.Logger) *Env {
	return &Env{NC: nc, JS: js, Metrics: m, Health: hs, Logger: log,
		DrainTimeout: c.DrainTimeout, AckWait: c.AckWait, MaxAttempts: c.MaxAttempts}
}

var errNoDial = errors.New("this environment was not set up by Process.Run: no server to dial")

// Dial opens another connection to the process's server, with the options
// of the services' own (pushbench measures raw JetStream on one that never
// queues behind their traffic). The caller closes it.
func (e *Env) Dial() (*nats.Conn, jetstream.JetStream, error) {
	if e.dial == nil {
		return nil, nil, errNoDial
	}
	return e.dial()
}

// Cleanup registers f to run once the services have stopped, or when
// building them failed, before the connection drains: the last
// registered runs first. Only Process.Run runs them.
func (e *Env) Cleanup(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cleanups = append(e.cleanups, f)
}

func (e *Env) runCleanups() {
	e.mu.Lock()
	fs := e.cleanups
	e.cleanups = nil
	e.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

// Built is what an Env built, each configuration with its defaults
// applied, as it runs: for diagnostics, and for the tests that check a
// flag reaches every component it configures.
type Built struct {
	// Streams is the configuration the streams were provisioned with;
	// nil when the process did not provision them.
	Streams *streams.Config
	// Consumers are the consumer runners, by name: dispatcher,
	// dispatcher-schedules, each sender's durable and its -retries
	// (apns-sender, apns-sender-retries…), feedback-sink.
	Consumers  map[string]consumer.Config
	Dispatcher *dispatch.Config
	Senders    map[events.Platform]send.Config
	Sink       *sink.Config
}

// Built returns what e built so far.
func (e *Env) Built() Built {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := e.built
	b.Consumers = maps.Clone(b.Consumers)
	b.Senders = maps.Clone(b.Senders)
	return b
}

// record notes a built configuration under e's lock.
func (e *Env) record(f func(b *Built)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(&e.built)
}

// maxAsyncPending lets a busy process keep many job and feedback publishes
// in flight before publishing blocks.
const maxAsyncPending = 16384

// asyncPublishTimeout fails an asynchronous publish whose acknowledgement
// never comes (the server failed after reading it), so that no caller waits
// on it forever; callers bound their own waits more tightly where they can.
const asyncPublishTimeout = 30 * time.Second

// NewJetStream returns the JetStream handle every service uses.
func NewJetStream(nc *nats.Conn) (jetstream.JetStream, error) {
	return jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(maxAsyncPending),
		jetstream.WithPublishAsyncTimeout(asyncPublishTimeout))
}

// Connect dials NATS with opts and returns the connection and JetStream handle.
func Connect(url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s: %w", redact(url), err)
	}
	js, err := NewJetStream(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// redact drops credentials embedded in NATS URLs (nats://user:pass@host)
// before they reach an error message or a log.
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, u := range parts {
		if p, err := neturl.Parse(strings.TrimSpace(u)); err == nil && p.User != nil {
			p.User = neturl.User("redacted")
			parts[i] = p.String()
		}
	}
	return strings.Join(parts, ",")
}

// provision is Provision for e, which records the configuration.
func (e *Env) provision(ctx context.Context, cfg streams.Config) error {
	if err := Provision(ctx, e.JS, cfg, e.Logger); err != nil {
		return err
	}
	cfg = cfg.WithDefaults()
	e.record(func(b *Built) { b.Streams = &cfg })
	return nil
}

// Provision creates or updates the streams, retrying while JetStream is
// not yet available (a cluster still electing leaders) until ctx ends.
// A configuration JetStream would reject fails at once.
func Provision(ctx context.Context, js jetstream.JetStream, cfg streams.Config, log *slog.Logger) error {
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := streams.Provision(pctx, js, cfg)
		cancel()
		if err == nil || errors.Is(err, config.ErrInvalid) {
			return err
		}
		log.Warn("provisioning streams failed, retrying", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("provision streams: %w", err)
		case <-time.After(min(time.Duration(attempt)*time.Second, 10*time.Second)):
		}
	}
}

// connected is a readiness check on the NATS connection.
func (e *Env) connected() error {
	if s := e.NC.Status(); s != nats.CONNECTED {
		return fmt.Errorf("nats %s", s)
	}
	return nil
}
