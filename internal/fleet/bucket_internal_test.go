package fleet

import (
	"context"
	"log/slog"
	"testing"
	"time"

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
