package consumer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// value reads a counter.
func value(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func poison(app string) consumer.Handler {
	return consumer.HandlerFunc(func(context.Context, jetstream.Msg) consumer.Verdict {
		return consumer.DeadLetter(app, "invalid", "intent too large")
	})
}

func workLeft(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), events.StreamIntents)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// A poison message of ~900 KB is dead-lettered on its first delivery, with a
// truncated payload that says how large it was and what it hashed to. (The
// server's max_payload is raised so that the old whole-payload dead letter
// would have been published: it must be cut to MaxDeadLetterBytes anyway.)
func TestOversizeMessageDeadLetteredTruncated(t *testing.T) {
	opts := natstest.Options(t.TempDir())
	opts.MaxPayload = 4 << 20
	js := setupServer(t, natstest.RunServerWithOptions(t, &opts))
	stop := start(t, js, consumer.Config{}, poison("app1"))
	defer stop()

	bodies := [][]byte{
		[]byte(`{"id":"big","pad":"` + strings.Repeat("x", 900_000) + `"}`), // JSON
		bytes.Repeat([]byte{0xff, 'z', 0x01}, 300_000),                      // not JSON: base64 in the dead letter
	}
	for _, b := range bodies {
		if _, err := js.Publish(context.Background(), events.IntentSubject("app1"), b); err != nil {
			t.Fatal(err)
		}
	}
	natstest.Eventually(t, 10*time.Second, func() bool { return len(deadLetters(t, js)) == 2 }, "two dead letters")
	// Handled in parallel: match dead letters to bodies by hash.
	byHash := map[string][]byte{}
	for _, b := range bodies {
		byHash[hexSHA(b)] = b
	}
	s, _ := js.Stream(context.Background(), events.StreamDead)
	for i, d := range deadLetters(t, js) {
		raw, err := s.GetMsg(context.Background(), uint64(i)+1)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw.Data) > events.DefaultMaxDeadLetterBytes {
			t.Errorf("dead letter %d is %d bytes, limit %d", i, len(raw.Data), events.DefaultMaxDeadLetterBytes)
		}
		body, ok := byHash[d.PayloadSHA256]
		delete(byHash, d.PayloadSHA256)
		if !ok || d.Attempts != 1 || d.Reason != "intent too large" || !d.Truncated || d.PayloadSize != len(body) ||
			len(d.PayloadBytes) == 0 || !bytes.HasPrefix(body, d.PayloadBytes) {
			t.Errorf("dead letter %d: attempts %d reason %q truncated %v size %d sha %s (known %v) prefix %d",
				i, d.Attempts, d.Reason, d.Truncated, d.PayloadSize, d.PayloadSHA256, ok, len(d.PayloadBytes))
		}
	}
	if n := workLeft(t, js); n != 0 {
		t.Fatalf("%d messages left in PUSH_INTENTS", n)
	}
}

// With a server whose max_payload is below MaxDeadLetterBytes, dead letters
// are cut to what that server accepts.
func TestDeadLetterFitsServerMaxPayload(t *testing.T) {
	opts := natstest.Options(t.TempDir())
	opts.MaxPayload = 64 << 10
	js := setupServer(t, natstest.RunServerWithOptions(t, &opts))
	stop := start(t, js, consumer.Config{}, poison("app1"))
	defer stop()
	body := bytes.Repeat([]byte{0xfe}, 60<<10) // base64 alone would be 80 KiB
	if _, err := js.Publish(context.Background(), events.IntentSubject("app1"), body); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 10*time.Second, func() bool { return len(deadLetters(t, js)) == 1 }, "dead letter")
	if d := deadLetters(t, js)[0]; !d.Truncated || d.PayloadSize != len(body) || d.Attempts != 1 {
		t.Fatalf("dead letter: truncated %v size %d attempts %d", d.Truncated, d.PayloadSize, d.Attempts)
	}
}

// A message whose handler never answers (it crashed the process, or
// outlived the ack wait) is not parked by the server: the delivery after
// MaxAttempts is dead-lettered without calling the handler again.
func TestDeliveriesWithoutVerdictEndInDeadLetter(t *testing.T) {
	js := setup(t)
	m := metrics.New()
	var calls atomic.Int32
	r := newRunner(t, js, consumer.Config{MaxAttempts: 3}, consumer.HandlerFunc(func(context.Context, jetstream.Msg) consumer.Verdict {
		calls.Add(1)
		return consumer.Done()
	}), m)
	publish(t, js, `{"id":"crash"}`)

	// Four deliveries that end without a verdict, as a handler crashing the
	// process would leave them (the nak only makes the redelivery immediate).
	cons, err := js.CreateOrUpdateConsumer(context.Background(), events.StreamIntents, r.ConsumerConfig())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			_ = msg.Nak()
		}
		if got != 1 {
			t.Fatalf("delivery %d: got %d messages (err %v)", i+1, got, batch.Error())
		}
	}

	stop := run(t, r)
	defer stop()
	natstest.Eventually(t, 10*time.Second, func() bool { return len(deadLetters(t, js)) == 1 }, "dead letter")
	d := deadLetters(t, js)[0]
	if calls.Load() != 0 {
		t.Fatalf("handler called %d times for an exhausted message", calls.Load())
	}
	if d.Attempts != 5 || !strings.Contains(d.Reason, "exhausted 5 deliveries without a verdict") || d.App != "app1" ||
		string(d.Payload) != `{"id":"crash"}` {
		t.Fatalf("dead letter %+v", d)
	}
	if got := value(m.DeadLetters.WithLabelValues(events.StageIntents, "exhausted")); got != 1 {
		t.Fatalf("dead_letters_total{reason=exhausted} = %v", got)
	}
}

// A dead letter that cannot be published is never dropped nor parked: the
// message stays in its stream, the failure is counted, and the dead letter
// (with the handler's reason) lands once PUSH_DEAD is back.
func TestFailedDeadLetterPublishKeepsMessage(t *testing.T) {
	js := setup(t)
	ctx := context.Background()
	if err := js.DeleteStream(ctx, events.StreamDead); err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	var calls atomic.Int32
	r := newRunner(t, js, consumer.Config{MaxAttempts: 2, BackoffBase: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond},
		consumer.HandlerFunc(func(context.Context, jetstream.Msg) consumer.Verdict {
			calls.Add(1)
			return consumer.DeadLetter("app1", "invalid", "unknown platform")
		}), m)
	stop := run(t, r)
	defer stop()
	publish(t, js, `{"id":"bad"}`)

	failures := m.DeadLetterFailures.WithLabelValues(events.StageIntents)
	// Past MaxAttempts deliveries: the handler is no longer called.
	natstest.Eventually(t, 10*time.Second, func() bool { return value(failures) >= 4 }, "dead-letter failures counted")
	if n := workLeft(t, js); n != 1 {
		t.Fatalf("%d messages in PUSH_INTENTS while PUSH_DEAD is gone, want 1 (kept)", n)
	}
	if c := calls.Load(); c != 2 {
		t.Fatalf("handler called %d times, want MaxAttempts (2)", c)
	}

	if err := streams.Provision(ctx, js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 10*time.Second, func() bool { return len(deadLetters(t, js)) == 1 && workLeft(t, js) == 0 },
		"dead letter lands once PUSH_DEAD is back")
	d := deadLetters(t, js)[0]
	if d.Reason != "unknown platform" || d.Attempts < 3 || d.App != "app1" {
		t.Fatalf("dead letter %+v", d)
	}
	if value(m.DeadLetters.WithLabelValues(events.StageIntents, "invalid")) != 1 {
		t.Fatal("dead letter not counted once")
	}
}
