package consumer_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

func setup(t *testing.T) jetstream.JetStream {
	t.Helper()
	return setupServer(t, natstest.RunServer(t))
}

// setupServer connects to srv and provisions the streams.
func setupServer(t *testing.T, srv *server.Server) jetstream.JetStream {
	t.Helper()
	_, js := natstest.Connect(t, srv)
	if err := streams.Provision(context.Background(), js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	return js
}

func start(t *testing.T, js jetstream.JetStream, cfg consumer.Config, h consumer.Handler) (stop func()) {
	t.Helper()
	return run(t, newRunner(t, js, cfg, h, metrics.New()))
}

// newRunner is a runner of PUSH_INTENTS (durable "test", stage intents).
func newRunner(t *testing.T, js jetstream.JetStream, cfg consumer.Config, h consumer.Handler, m *metrics.Fleet) *consumer.Runner {
	t.Helper()
	cfg.Stream, cfg.Durable, cfg.Stage = events.StreamIntents, "test", events.StageIntents
	r, err := consumer.New(js, cfg, h, m)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// run runs r until the returned stop is called.
func run(t *testing.T, r *consumer.Runner) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	natstest.Eventually(t, 5*time.Second, r.Ready, "runner ready")
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}
}

func deadLetters(t *testing.T, js jetstream.JetStream) []events.DeadLetter {
	t.Helper()
	s, err := js.Stream(context.Background(), events.StreamDead)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Info(context.Background())
	var out []events.DeadLetter
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		if err != nil {
			continue
		}
		var d events.DeadLetter
		_ = json.Unmarshal(m.Data, &d)
		out = append(out, d)
	}
	return out
}

func publish(t *testing.T, js jetstream.JetStream, body string) {
	t.Helper()
	if _, err := js.Publish(context.Background(), events.IntentSubject("app1"), []byte(body)); err != nil {
		t.Fatal(err)
	}
}

func TestRetryBudgetEndsInDeadLetter(t *testing.T) {
	js := setup(t)
	var calls atomic.Int32
	stop := start(t, js, consumer.Config{MaxAttempts: 3, BackoffBase: 10 * time.Millisecond, BackoffMax: 20 * time.Millisecond},
		consumer.HandlerFunc(func(context.Context, jetstream.Msg) consumer.Verdict {
			calls.Add(1)
			v := consumer.RetryAfter(0, "provider", "503 ServiceUnavailable")
			v.App = "app1"
			return v
		}))
	defer stop()
	publish(t, js, `{"x":1}`)
	natstest.Eventually(t, 10*time.Second, func() bool { return len(deadLetters(t, js)) == 1 }, "dead letter")
	d := deadLetters(t, js)[0]
	if calls.Load() != 3 || d.Attempts != 3 || !strings.Contains(d.Reason, "gave up after 3 attempts: 503") || d.App != "app1" {
		t.Fatalf("calls %d, dead letter %+v", calls.Load(), d)
	}
	if string(d.Payload) != `{"x":1}` {
		t.Fatalf("payload %s", d.Payload)
	}
}

func TestHandlerPanicBecomesDeadLetter(t *testing.T) {
	js := setup(t)
	var served atomic.Int32
	stop := start(t, js, consumer.Config{}, consumer.HandlerFunc(func(_ context.Context, m jetstream.Msg) consumer.Verdict {
		if string(m.Data()) == "boom" {
			panic("bad input")
		}
		served.Add(1)
		return consumer.Done()
	}))
	defer stop()
	publish(t, js, "boom")
	publish(t, js, "fine")
	natstest.Eventually(t, 5*time.Second, func() bool { return served.Load() == 1 && len(deadLetters(t, js)) == 1 }, "served and dead-lettered")
	if d := deadLetters(t, js)[0]; !strings.Contains(d.Reason, "panic: bad input") || string(d.PayloadBytes) != "boom" {
		t.Fatalf("dead letter %+v", d)
	}
}

// On shutdown a handler in flight finishes and its message is acked; nothing
// is left for redelivery.
func TestDrainFinishesInFlight(t *testing.T) {
	js := setup(t)
	started := make(chan struct{})
	release := make(chan struct{})
	var finished atomic.Bool
	stop := start(t, js, consumer.Config{MaxInFlight: 1}, consumer.HandlerFunc(func(context.Context, jetstream.Msg) consumer.Verdict {
		close(started)
		<-release
		finished.Store(true)
		return consumer.Done()
	}))
	publish(t, js, "slow")
	<-started
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	time.Sleep(50 * time.Millisecond)
	close(release)
	<-stopped
	if !finished.Load() {
		t.Fatal("in-flight handler did not finish before Run returned")
	}
	s, _ := js.Stream(context.Background(), events.StreamIntents)
	info, _ := s.Info(context.Background())
	if info.State.Msgs != 0 {
		t.Fatalf("%d messages left in the work queue after a clean drain", info.State.Msgs)
	}
}

func TestBackoffGrowsAndCaps(t *testing.T) {
	tests := []struct {
		attempt  int
		min, max time.Duration
	}{
		{1, 800 * time.Millisecond, 1200 * time.Millisecond},
		{2, 1600 * time.Millisecond, 2400 * time.Millisecond},
		{4, 6400 * time.Millisecond, 9600 * time.Millisecond},
		{30, 48 * time.Second, 72 * time.Second},
	}
	for _, tc := range tests {
		for range 50 {
			d := consumer.Backoff(tc.attempt, time.Second, time.Minute)
			if d < tc.min || d > tc.max {
				t.Fatalf("Backoff(%d) = %v, want in [%v, %v]", tc.attempt, d, tc.min, tc.max)
			}
		}
	}
}

// The jitter uses the whole documented ±20%, not just ±10%.
func TestBackoffJitterSpansTwentyPercent(t *testing.T) {
	lo, hi := time.Hour, time.Duration(0)
	for range 2000 {
		d := consumer.Backoff(1, time.Second, time.Minute)
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo > 850*time.Millisecond || hi < 1150*time.Millisecond {
		t.Fatalf("2000 delays within [%v, %v], want some beyond ±15%% of 1s", lo, hi)
	}
}

// A service started before its streams exist (--provision=false, the
// admin's provisioning still to come) binds and consumes once they are
// provisioned, without a restart.
func TestRunnerBindsOnceStreamsAppear(t *testing.T) {
	t.Parallel()
	_, js := natstest.Connect(t, natstest.RunServer(t))
	var handled atomic.Int32
	r, err := consumer.New(js, consumer.Config{
		Stream: events.StreamIntents, Durable: "late", Stage: events.StageIntents,
	}, consumer.HandlerFunc(func(context.Context, jetstream.Msg) consumer.Verdict {
		handled.Add(1)
		return consumer.Done()
	}), metrics.New())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	time.Sleep(300 * time.Millisecond)
	if r.Ready() {
		t.Fatal("ready without a stream")
	}
	if err := streams.Provision(context.Background(), js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(context.Background(), events.IntentSubject("demo"), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 20*time.Second, func() bool { return handled.Load() == 1 }, "the message was not handled after provisioning")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}
