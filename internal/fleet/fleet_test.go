package fleet_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/sink"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// scripted is a provider.Sender whose answers depend on the token text, for
// testing the JetStream plumbing alone; provider behaviour itself is tested
// against each provider's faithful fake.
type scripted struct {
	mu    sync.Mutex
	calls int
	sent  map[string]int
	fails map[string]int // token → remaining Retry answers
}

func (s *scripted) Send(_ context.Context, job *events.Job) []provider.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	rs := make([]provider.Result, len(job.Tokens))
	for i, t := range job.Tokens {
		rs[i] = provider.Result{Token: t, Kind: provider.Delivered}
		switch {
		case s.fails[t] > 0:
			s.fails[t]--
			rs[i].Kind, rs[i].Reason, rs[i].Err = provider.Retry, "ServiceUnavailable", provider.ErrUnavailable
		case strings.HasPrefix(t, "dead"):
			rs[i].Kind, rs[i].Reason, rs[i].Err = provider.InvalidToken, "Unregistered", provider.ErrInvalidToken
		case s.fails["rl:"+t] > 0:
			s.fails["rl:"+t]--
			rs[i].Kind, rs[i].Reason, rs[i].Err = provider.Retry, "TooManyRequests", provider.ErrRateLimited
			rs[i].RetryAfter = 100 * time.Millisecond
		case s.fails["cred:"+t] > 0:
			s.fails["cred:"+t]--
			rs[i].Kind, rs[i].Reason, rs[i].Err = provider.CredentialError, "InvalidProviderToken", provider.ErrCredentials
		case strings.HasPrefix(t, "poison"):
			rs[i].Kind, rs[i].Reason, rs[i].Err = provider.Permanent, "BadTopic", provider.ErrBadMessage
		default:
			s.sent[t]++
		}
	}
	return rs
}

func (s *scripted) count(t string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent[t]
}

type harness struct {
	js      jetstream.JetStream
	senders map[events.Platform]*scripted
	kv      jetstream.KeyValue
}

func startFleet(t *testing.T) *harness {
	t.Helper()
	srv := natstest.RunServer(t)
	nc, _ := natstest.Connect(t, srv)
	js, err := fleet.NewJetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := streams.Provision(ctx, js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	env := &fleet.Env{NC: nc, JS: js, Metrics: metrics.New(), Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		DrainTimeout: 5 * time.Second, MaxAttempts: 4}
	h := &harness{js: js, senders: map[events.Platform]*scripted{}}
	var g fleet.Group
	d, err := env.Dispatcher(ctx, config.Dispatcher{})
	if err != nil {
		t.Fatal(err)
	}
	g = append(g, d)
	for _, p := range events.Platforms {
		s := &scripted{sent: map[string]int{}, fails: map[string]int{}}
		h.senders[p] = s
		var o config.SenderOptions
		o.Send.RetryBase, o.Send.RetryMax = 100*time.Millisecond, 200*time.Millisecond
		o.Send.PauseMin, o.Send.PauseMax = 300*time.Millisecond, 600*time.Millisecond
		svc, err := env.SenderService(p, s, o)
		if err != nil {
			t.Fatal(err)
		}
		g = append(g, svc)
	}
	sk, err := env.FeedbackSink(ctx, config.Sink{Sink: sink.Config{FlushInterval: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	g = append(g, sk)
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("fleet run: %v", err)
		}
	})
	h.kv, err = js.KeyValue(ctx, events.TokensBucket)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func publish(t *testing.T, js jetstream.JetStream, in *events.Intent) *jetstream.PubAck {
	t.Helper()
	ack, err := events.NewPublisher(js).Publish(context.Background(), in)
	if err != nil {
		t.Fatalf("publish %s: %v", in.ID, err)
	}
	return ack
}

func intent(id string, targets ...events.Target) *events.Intent {
	return &events.Intent{ID: id, App: "demo", Targets: events.Targets{Tokens: targets},
		Notification: events.Notification{Title: "hi", Body: "there"}}
}

func TestPipelineDeliversAndRecordsInvalidTokens(t *testing.T) {
	h := startFleet(t)
	in := intent("i1",
		events.Target{Platform: events.APNs, Token: "aa01"},
		events.Target{Platform: events.FCM, Token: "fcm:1"},
		events.Target{Platform: events.Mi, Token: "mi+1"},
		events.Target{Platform: events.FCM, Token: "dead:2"},
	)
	publish(t, h.js, in)
	natstest.Eventually(t, 10*time.Second, func() bool {
		return h.senders[events.APNs].count("aa01") == 1 && h.senders[events.FCM].count("fcm:1") == 1 &&
			h.senders[events.Mi].count("mi+1") == 1
	}, "every platform delivered")
	store := tokens.NewStore(h.kv)
	natstest.Eventually(t, 10*time.Second, func() bool {
		r, _, err := store.Get(context.Background(), "demo", events.FCM, "dead:2")
		return err == nil && r.State == tokens.Invalid && r.Reason == "Unregistered"
	}, "dead token recorded invalid")
}

func TestDuplicateIntentDeliveredOnce(t *testing.T) {
	h := startFleet(t)
	in := intent("dup-1", events.Target{Platform: events.APNs, Token: "ab02"})
	publish(t, h.js, in)
	if ack := publish(t, h.js, in); !ack.Duplicate {
		t.Fatal("second publish inside the dedup window not reported as duplicate")
	}
	natstest.Eventually(t, 10*time.Second, func() bool { return h.senders[events.APNs].count("ab02") == 1 }, "delivered")
	time.Sleep(300 * time.Millisecond)
	if n := h.senders[events.APNs].count("ab02"); n != 1 {
		t.Fatalf("delivered %d times, want 1", n)
	}
}

func TestMalformedIntentDeadLetteredAndDispatcherKeepsServing(t *testing.T) {
	h := startFleet(t)
	ctx := context.Background()
	bad := []struct{ name, body, wantField string }{
		{"not json", `{"id": "x",`, "invalid JSON"},
		{"unknown platform", `{"id":"b1","app":"demo","targets":{"tokens":[{"platform":"wp","token":"t"}]},"notification":{"title":"x"}}`, "targets.tokens[0].platform"},
		{"missing id", `{"app":"demo","targets":{"tokens":[{"platform":"apns","token":"ab"}]},"notification":{"title":"x"}}`, "id: is required"},
		{"wrong type", `{"id":"b3","app":"demo","targets":{"tokens":"ab"},"notification":{"title":"x"}}`, "targets.tokens"},
	}
	for _, b := range bad {
		if _, err := h.js.Publish(ctx, events.IntentSubject("demo"), []byte(b.body)); err != nil {
			t.Fatal(err)
		}
	}
	publish(t, h.js, intent("good-1", events.Target{Platform: events.APNs, Token: "ab03"}))
	natstest.Eventually(t, 10*time.Second, func() bool { return h.senders[events.APNs].count("ab03") == 1 }, "good intent delivered after bad ones")

	// Dead letters come from concurrent handlers: match them by payload.
	byPayload := map[string]events.DeadLetter{}
	for _, d := range readDead(t, h.js, len(bad)) {
		byPayload[string(d.Original())] = d
	}
	for _, b := range bad {
		d, ok := byPayload[b.body]
		if !ok {
			t.Errorf("%s: no dead letter carries the original payload", b.name)
			continue
		}
		if d.Stage != events.StageIntents || !strings.Contains(d.Reason, b.wantField) {
			t.Errorf("%s: dead letter stage %q reason %q, want reason naming %q", b.name, d.Stage, d.Reason, b.wantField)
		}
	}
}

func TestPartialFailureRetriesOnlyFailedTokens(t *testing.T) {
	h := startFleet(t)
	s := h.senders[events.FCM]
	s.mu.Lock()
	s.fails["flaky"] = 2
	s.mu.Unlock()
	publish(t, h.js, intent("partial-1",
		events.Target{Platform: events.FCM, Token: "ok1"},
		events.Target{Platform: events.FCM, Token: "flaky"},
		events.Target{Platform: events.FCM, Token: "ok2"},
	))
	natstest.Eventually(t, 20*time.Second, func() bool { return s.count("flaky") == 1 }, "flaky token delivered after retries")
	if s.count("ok1") != 1 || s.count("ok2") != 1 {
		t.Fatalf("healthy tokens delivered %d and %d times, want once each", s.count("ok1"), s.count("ok2"))
	}
}

func TestPermanentFailureDeadLettersOnlyThatToken(t *testing.T) {
	h := startFleet(t)
	publish(t, h.js, intent("perm-1",
		events.Target{Platform: events.Mi, Token: "poison1"},
		events.Target{Platform: events.Mi, Token: "fine1"},
	))
	dead := readDead(t, h.js, 1)
	if dead[0].Stage != "mi" || len(dead[0].Tokens) != 1 || dead[0].Tokens[0] != "poison1" || !strings.HasPrefix(dead[0].Reason, "BadTopic") {
		t.Fatalf("dead letter %+v, want stage mi, token poison1, reason BadTopic", dead[0])
	}
	if h.senders[events.Mi].count("fine1") != 1 {
		t.Fatal("healthy token of the same job not delivered")
	}
}

func readDead(t *testing.T, js jetstream.JetStream, n int) []events.DeadLetter {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, events.StreamDead, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []events.DeadLetter
	for len(out) < n {
		msg, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("got %d dead letters, want %d", len(out), n)
			}
			t.Fatal(err)
		}
		var d events.DeadLetter
		if err := json.Unmarshal(msg.Data(), &d); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func TestScheduledIntentFiresAtSendAt(t *testing.T) {
	h := startFleet(t)
	in := intent("sched-1", events.Target{Platform: events.APNs, Token: "ab10"})
	at := time.Now().Add(2 * time.Second)
	in.SendAt = &at
	publish(t, h.js, in)
	time.Sleep(time.Second)
	if h.senders[events.APNs].count("ab10") != 0 {
		t.Fatal("scheduled intent delivered before send_at")
	}
	natstest.Eventually(t, 10*time.Second, func() bool { return h.senders[events.APNs].count("ab10") == 1 }, "delivered after send_at")
	if time.Now().Before(at) {
		t.Fatal("delivered before send_at")
	}
}

func TestExpiredIntentIsNeverSent(t *testing.T) {
	h := startFleet(t)
	// Failing twice, its retries outlast its expiry: it must then never be sent.
	in := intent("exp-1", events.Target{Platform: events.FCM, Token: "late"})
	exp := time.Now().Add(1500 * time.Millisecond)
	in.Notification.Expiry = &exp
	h.senders[events.FCM].mu.Lock()
	h.senders[events.FCM].fails["late"] = 2
	h.senders[events.FCM].mu.Unlock()
	publish(t, h.js, in)
	fresh := intent("exp-2", events.Target{Platform: events.FCM, Token: "fresh"})
	at2 := time.Now().Add(3 * time.Second)
	fresh.SendAt = &at2
	publish(t, h.js, fresh)
	natstest.Eventually(t, 10*time.Second, func() bool { return h.senders[events.FCM].count("fresh") == 1 }, "control intent delivered")
	if n := h.senders[events.FCM].count("late"); n != 0 {
		t.Fatalf("expired notification sent %d times", n)
	}
}

// During a provider outage the circuit breaker holds jobs back instead of
// burning their retry budget; after recovery every one is delivered.
func TestOutageDoesNotBurnRetries(t *testing.T) {
	h := startFleet(t)
	s := h.senders[events.Mi]
	s.mu.Lock()
	for i := range 15 {
		s.fails[fmt.Sprintf("mi-%d", i)] = 1 << 30 // down until cleared
	}
	s.mu.Unlock()
	for i := range 15 {
		publish(t, h.js, intent(fmt.Sprintf("outage-%d", i), events.Target{Platform: events.Mi, Token: fmt.Sprintf("mi-%d", i)}))
	}
	time.Sleep(6 * time.Second)
	s.mu.Lock()
	clear(s.fails)
	calls := s.calls
	s.mu.Unlock()
	// Without the breaker the 15 jobs would make ~50 calls in 6s (attempts
	// at 0, 1, 3s…) and head for the dead-letter stream; with it: the 10
	// that open it, then a probe per cool-down (2s, 4s).
	if calls > 14 {
		t.Fatalf("%d provider calls during the outage: the breaker did not hold jobs back", calls)
	}
	natstest.Eventually(t, 30*time.Second, func() bool {
		for i := range 15 {
			if s.count(fmt.Sprintf("mi-%d", i)) != 1 {
				return false
			}
		}
		return true
	}, "every job delivered after the outage")
}

// A credential error pauses the app's sends and never invalidates tokens;
// once the credentials work again the notification is delivered.
func TestCredentialErrorPausesAppAndKeepsTokens(t *testing.T) {
	h := startFleet(t)
	s := h.senders[events.APNs]
	s.mu.Lock()
	s.fails["cred:ab20"] = 1
	s.mu.Unlock()
	publish(t, h.js, intent("cred-1", events.Target{Platform: events.APNs, Token: "ab20"}))
	natstest.Eventually(t, 15*time.Second, func() bool { return s.count("ab20") == 1 }, "delivered after the pause")
	r, _, err := tokens.NewStore(h.kv).Get(context.Background(), "demo", events.APNs, "ab20")
	if err == nil && r.State != tokens.Active {
		t.Fatalf("credential error changed the token's state to %s", r.State)
	}
}

// Rate limits delay a push without using up its attempts: throttled more
// often than the retry budget (4), it still ends delivered, not dead.
func TestRateLimitsDoNotSpendAttempts(t *testing.T) {
	h := startFleet(t)
	s := h.senders[events.FCM]
	s.mu.Lock()
	s.fails["rl:throttled"] = 6
	s.mu.Unlock()
	publish(t, h.js, intent("rl-1", events.Target{Platform: events.FCM, Token: "throttled"}, events.Target{Platform: events.FCM, Token: "calm"}))
	natstest.Eventually(t, 30*time.Second, func() bool { return s.count("throttled") == 1 }, "delivered after 6 rate limits")
	if s.count("calm") != 1 {
		t.Fatalf("the job's other token delivered %d times, want 1", s.count("calm"))
	}
	st, _ := h.js.Stream(context.Background(), events.StreamDead)
	if info, _ := st.Info(context.Background()); info.State.Msgs != 0 {
		t.Fatalf("%d dead letters: rate limits spent the retry budget", info.State.Msgs)
	}
}
