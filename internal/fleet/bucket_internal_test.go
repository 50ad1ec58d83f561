package fleet

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// A dispatcher or feedback-sink started before the admin provisioned
// (--provision=false) waits for its buckets instead of exiting.
func TestBucketWaitsForProvisioning(t *testing.T) {
	t.Parallel()
	_, js := natstest.Connect(t, natstest.RunServer(t))
	e := &Env{JS: js, Logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := e.bucket(ctx, events.TokensBucket)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("returned before the bucket existed: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := streams.Provision(context.Background(), js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("after provisioning: %v", err)
	}

	stopped, stop := context.WithCancel(context.Background())
	stop()
	if _, err := e.bucket(stopped, "nosuch"); err == nil {
		t.Error("a stopped wait for a missing bucket returned no error")
	}
}

// flakyJS answers KeyValue with err the first n times, as a bucket whose
// stream has no leader yet does, then as the server does.
type flakyJS struct {
	jetstream.JetStream
	n   int
	err error
}

func (f *flakyJS) KeyValue(ctx context.Context, name string) (jetstream.KeyValue, error) {
	if f.n > 0 {
		f.n--
		return nil, f.err
	}
	return f.JetStream.KeyValue(ctx, name)
}

// A service started while its bucket's stream elects a leader waits for
// it instead of exiting; a refusal is returned at once.
func TestBucketWaitsForALeader(t *testing.T) {
	t.Parallel()
	_, js := natstest.Connect(t, natstest.RunServer(t))
	if err := streams.Provision(context.Background(), js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, transient := range []error{context.DeadlineExceeded, nats.ErrTimeout, nats.ErrNoResponders} {
		f := &flakyJS{JetStream: js, n: 2, err: transient}
		e := &Env{JS: f, Logger: slog.New(slog.DiscardHandler)}
		if _, err := e.bucket(ctx, events.TokensBucket); err != nil || f.n != 0 {
			t.Fatalf("after %v twice: %v (%d answers left)", transient, err, f.n)
		}
	}
	f := &flakyJS{JetStream: js, n: 1, err: nats.ErrPermissionViolation}
	e := &Env{JS: f, Logger: slog.New(slog.DiscardHandler)}
	if _, err := e.bucket(ctx, events.TokensBucket); !errors.Is(err, nats.ErrPermissionViolation) {
		t.Fatalf("a refusal: %v, want it returned at once", err)
	}
}
