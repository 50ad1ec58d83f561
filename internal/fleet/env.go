package fleet

import (
	"context"
	"fmt"
	"log/slog"
	neturl "net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/health"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/streams"
)

// Env is what every service of a process shares.
type Env struct {
	NC      *nats.Conn
	JS      jetstream.JetStream
	Metrics *metrics.Fleet
	Health  *health.Server
	Logger  *slog.Logger
	// DrainTimeout bounds the graceful stop of in-flight work.
	DrainTimeout time.Duration
	// AckWait is every consumer's ack wait (default 30s).
	AckWait time.Duration
	// MaxAttempts is the retry budget of every stage (--max-attempts,
	// default 10): every consumer runner's MaxAttempts and the senders'
	// tries per token.
	MaxAttempts int
}

// NewEnv is the Env of a process configured by c: the settings every
// service shares come from the common flags, here and nowhere else.
func NewEnv(c *config.Common, nc *nats.Conn, js jetstream.JetStream, m *metrics.Fleet, hs *health.Server, log *slog.Logger) *Env {
	return &Env{NC: nc, JS: js, Metrics: m, Health: hs, Logger: log,
		DrainTimeout: c.DrainTimeout, AckWait: c.AckWait, MaxAttempts: c.MaxAttempts}
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

// Provision creates or updates the streams, retrying while JetStream is
// not yet available (a cluster still electing leaders) until ctx ends.
func Provision(ctx context.Context, js jetstream.JetStream, cfg streams.Config, log *slog.Logger) error {
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := streams.Provision(pctx, js, cfg)
		cancel()
		if err == nil {
			return nil
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
