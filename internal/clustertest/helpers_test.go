package clustertest

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
)

// connect dials the cluster starting with node first, failing over to the
// others and reconnecting forever, as a production service does.
func connect(t testing.TB, c *natstest.Cluster, first int, name string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, js, err := fleet.Connect(c.URLs(first), nats.Name(name), nats.DontRandomize(),
		nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond), nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc, js
}

func provision(ctx context.Context, t testing.TB, js jetstream.JetStream, cfg streams.Config) {
	t.Helper()
	if err := fleet.Provision(ctx, js, cfg, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
}

// logBuffer collects the services' logs (warnings and up) and prints the
// tail when the test fails.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func newLogs(t testing.TB) (*logBuffer, *slog.Logger) {
	l := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			lines := strings.Split(strings.TrimSpace(l.String()), "\n")
			if len(lines) > 200 {
				lines = lines[len(lines)-200:]
			}
			t.Logf("service logs (last %d lines):\n%s", len(lines), strings.Join(lines, "\n"))
		}
	})
	return l, slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
