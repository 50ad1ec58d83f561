package fleet

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// --max-attempts reaches the consumer runners of a standalone binary: flag
// → config.Common → RunProcess's Env → runner. A message whose handler asks
// for a retry every time is dead-lettered at the third delivery.
func TestMaxAttemptsReachesStandaloneRunners(t *testing.T) {
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv)
	var calls atomic.Int32
	retry := consumer.HandlerFunc(func(context.Context, jetstream.Msg) consumer.Verdict {
		calls.Add(1)
		return consumer.RetryAfter(0, "provider", "503")
	})
	runners := make(chan *consumer.Runner, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	args := []string{"--nats-url", srv.ClientURL(), "--http-addr", "127.0.0.1:0", "--log-level", "error", "--max-attempts", "3"}
	go func() {
		done <- RunCommand(ctx, "test-service", "test", args, func(string) string { return "" }, io.Discard,
			func(*flag.FlagSet) Build {
				return func(_ context.Context, env *Env) (Service, error) {
					r, err := env.runner("test", consumer.Config{
						Stream: events.StreamIntents, Durable: "test", Stage: events.StageIntents,
						BackoffBase: 10 * time.Millisecond, BackoffMax: 20 * time.Millisecond,
					}, retry)
					runners <- r
					return r, err
				}
			})
		close(done)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunCommand: %v", err)
		}
	}()
	var r *consumer.Runner
	select {
	case r = <-runners:
	case err := <-done:
		t.Fatalf("RunCommand ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("service not built in 10s")
	}
	natstest.Eventually(t, 10*time.Second, r.Ready, "runner ready")
	if _, err := js.Publish(context.Background(), events.IntentSubject("app1"), []byte(`{"id":"x"}`)); err != nil {
		t.Fatal(err)
	}
	var d events.DeadLetter
	natstest.Eventually(t, 10*time.Second, func() bool {
		s, err := js.Stream(context.Background(), events.StreamDead)
		if err != nil {
			return false
		}
		m, err := s.GetLastMsgForSubject(context.Background(), events.DeadRoot+".>")
		return err == nil && json.Unmarshal(m.Data, &d) == nil
	}, "dead letter")
	if d.Attempts != 3 || calls.Load() != 3 {
		t.Fatalf("dead-lettered after %d attempts (%d handler calls), want 3", d.Attempts, calls.Load())
	}
}
