package consumer_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// The JetStream server goes away and comes back from its store while the
// runner consumes: it renews its pull iterator after the reconnect, every
// message is handled exactly once, and every ack reaches the server (the
// work queue ends empty, nothing waits for a redelivery).
func TestRunnerConsumesAcrossServerRestart(t *testing.T) {
	srv := natstest.StartServer(t)
	nc, err := nats.Connect(srv.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := streams.Provision(context.Background(), js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	stop := start(t, js, consumer.Config{MaxInFlight: 8, AckWait: 30 * time.Second}, consumer.HandlerFunc(
		func(_ context.Context, msg jetstream.Msg) consumer.Verdict {
			mu.Lock()
			seen[string(msg.Data())]++
			mu.Unlock()
			return consumer.Done()
		}))
	defer stop()
	handled := func(n int) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(seen) == n
		}
	}
	publishN := func(from, to int) {
		for i := from; i < to; i++ {
			natstest.Eventually(t, 10*time.Second, func() bool {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				_, err := js.Publish(ctx, events.IntentSubject("app1"), fmt.Appendf(nil, "m%d", i))
				return err == nil
			}, "publish m%d", i)
		}
	}

	publishN(0, 50)
	natstest.Eventually(t, 10*time.Second, handled(50), "the first 50 handled")
	srv.Shutdown()
	srv.Restart(t)
	natstest.Eventually(t, 10*time.Second, func() bool { return nc.Status() == nats.CONNECTED }, "reconnected")
	publishN(50, 100)
	// Well within the AckWait: nothing may depend on a redelivery.
	natstest.Eventually(t, 10*time.Second, handled(100), "all 100 handled after the restart")
	natstest.Eventually(t, 10*time.Second, func() bool {
		s, err := js.Stream(context.Background(), events.StreamIntents)
		if err != nil {
			return false
		}
		info, err := s.Info(context.Background())
		return err == nil && info.State.Msgs == 0
	}, "every ack applied (work queue empty)")
	mu.Lock()
	defer mu.Unlock()
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s handled %d times", k, n)
		}
	}
}
