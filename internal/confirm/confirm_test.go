package confirm_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/confirm"
	"github.com/pushfleet/pushfleet/internal/confirmstate"
	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

const app = "shop"

// recorder is a provider that delivers every token and remembers, per
// intent id, the tokens it was asked to send.
type recorder struct {
	mu   sync.Mutex
	sent map[string][]string // intent id → tokens
}

func (r *recorder) Send(_ context.Context, job *events.Job) []provider.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	rs := make([]provider.Result, len(job.Tokens))
	for i, t := range job.Tokens {
		r.sent[job.IntentOf(i)] = append(r.sent[job.IntentOf(i)], t)
		rs[i] = provider.Result{Token: t, Kind: provider.Delivered}
	}
	return rs
}

func (r *recorder) tokens(id string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.sent[id]...)
}

// outcomes collects the confirmation service's feedback events.
type outcomes struct {
	mu  sync.Mutex
	fbs []events.Feedback
}

func (o *outcomes) of(token string) []events.Outcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []events.Outcome
	for _, f := range o.fbs {
		if f.Token == token {
			out = append(out, f.Outcome)
		}
	}
	return out
}

type harness struct {
	srv  *natstest.Server
	js   jetstream.JetStream
	nc   *nats.Conn
	prov *recorder
	out  *outcomes
	// replicas are the confirmation services' metrics, one per replica.
	replicas []*metrics.Fleet
}

// start runs a dispatcher, an APNs sender over a recorder and replicas
// confirmation services on srv until the test ends (or stop is called).
func start(t *testing.T, srv *natstest.Server, prov *recorder, replicas int) (*harness, func()) {
	t.Helper()
	nc, err := nats.Connect(srv.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	js, err := fleet.NewJetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := streams.Provision(ctx, js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	h := &harness{srv: srv, js: js, nc: nc, prov: prov, out: &outcomes{}}
	var w io.Writer = io.Discard
	if testing.Verbose() {
		w = os.Stderr
	}
	log := slog.New(slog.NewJSONHandler(w, nil))
	env := &fleet.Env{NC: nc, JS: js, Metrics: metrics.New(), Logger: log, DrainTimeout: 5 * time.Second, MaxAttempts: 4}
	var g fleet.Group
	var conns []*nats.Conn
	d, err := env.Dispatcher(ctx, config.Dispatcher{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := env.SenderService(events.APNs, prov, config.SenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g = append(g, d, s)
	for range replicas {
		// Each replica its own connection and registry, as its own pod.
		rnc, err := nats.Connect(srv.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		rjs, err := fleet.NewJetStream(rnc)
		if err != nil {
			t.Fatal(err)
		}
		renv := &fleet.Env{NC: rnc, JS: rjs, Metrics: metrics.New(), Logger: log, DrainTimeout: 5 * time.Second, MaxAttempts: 4}
		c, err := renv.ConfirmService(ctx, fleet.ConfirmOptions{Confirm: confirm.Config{NotDeliveredRetry: 50 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		h.replicas = append(h.replicas, renv.Metrics)
		g = append(g, c)
		conns = append(conns, rnc)
	}
	// The outcomes as stored: what followers of the stream see.
	oc, err := js.OrderedConsumer(ctx, events.StreamFeedback, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.FeedbackRoot + ".*.*." + events.ConfirmSuffix}})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := oc.Consume(func(m jetstream.Msg) {
		fbs, err := events.DecodeFeedbackEvents(m.Data())
		if err != nil {
			t.Errorf("confirmation service feedback: %v", err)
			return
		}
		h.out.mu.Lock()
		h.out.fbs = append(h.out.fbs, fbs...)
		h.out.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("run: %v", err)
			}
			cc.Stop()
			nc.Close()
			for _, c := range conns {
				c.Close()
			}
		})
	}
	t.Cleanup(stop)
	return h, stop
}

func newHarness(t *testing.T, replicas int) *harness {
	t.Helper()
	h, _ := start(t, natstest.StartServer(t), &recorder{sent: map[string][]string{}}, replicas)
	return h
}

func confirmIntent(id string, within, every time.Duration, tokens ...string) *events.Intent {
	in := &events.Intent{ID: id, App: app, Notification: events.Notification{Title: "Order", Body: "shipped"},
		Confirm: &events.Confirm{Within: events.Duration(within), ResendEvery: events.Duration(every)}}
	for _, tk := range tokens {
		in.Targets.Tokens = append(in.Targets.Tokens, events.Target{Platform: events.APNs, Token: tk})
	}
	return in
}

func (h *harness) publish(t *testing.T, in *events.Intent) {
	t.Helper()
	if _, err := events.NewPublisher(h.js).Publish(context.Background(), in); err != nil {
		t.Fatalf("publish %s: %v", in.ID, err)
	}
}

func (h *harness) confirm(t *testing.T, id, token string) {
	t.Helper()
	if _, err := events.NewPublisher(h.js).Confirm(context.Background(), app, events.Confirmation{IntentID: id, Token: token}); err != nil {
		t.Fatalf("confirm %s %s: %v", id, token, err)
	}
}

func (h *harness) status(t *testing.T, id string) *confirmstate.Status {
	t.Helper()
	kv, err := h.js.KeyValue(context.Background(), events.ConfirmBucket)
	if err != nil {
		t.Fatal(err)
	}
	st, err := confirmstate.ReadStatus(context.Background(), kv, app, id)
	if err != nil {
		t.Fatalf("status %s: %v", id, err)
	}
	return st
}

func stateOf(st *confirmstate.Status, token string) string {
	for _, ts := range st.Tokens {
		if ts.Token == token {
			return ts.State
		}
	}
	return ""
}

// waitState waits until token of intent id is in state.
func (h *harness) waitState(t *testing.T, id, token, state string) {
	t.Helper()
	natstest.Eventually(t, 10*time.Second, func() bool {
		kv, err := h.js.KeyValue(context.Background(), events.ConfirmBucket)
		if err != nil {
			return false
		}
		st, err := confirmstate.ReadStatus(context.Background(), kv, app, id)
		return err == nil && stateOf(st, token) == state
	}, "token %s of %s in state %s", token, id, state)
}

// fire releases tick n of intent id now, as its timer would when due:
// once tick n-1 is recorded, as a timer armed by it would.
func (h *harness) fire(t *testing.T, id string, n int) {
	t.Helper()
	natstest.Eventually(t, 10*time.Second, func() bool {
		kv, err := h.js.KeyValue(context.Background(), events.ConfirmBucket)
		if err != nil {
			return false
		}
		st, err := confirmstate.ReadStatus(context.Background(), kv, app, id)
		return err == nil && st.Watch.Next >= n
	}, "tick %d of %s armed", n, id)
	b, _ := json.Marshal(map[string]any{"app": app, "intent_id": id, "n": n})
	if _, err := h.js.Publish(context.Background(), events.ConfirmDueSubject(app), b); err != nil {
		t.Fatal(err)
	}
}

// quiet waits until the confirmation service has handled everything on
// its timers and PUSH_CONFIRM.
func (h *harness) quiet(t *testing.T) {
	t.Helper()
	natstest.Eventually(t, 10*time.Second, func() bool {
		for _, s := range []string{events.StreamConfirmTimers, events.StreamConfirm} {
			c, err := h.js.Consumer(context.Background(), s, events.DurableConfirm)
			if err != nil {
				return false
			}
			info, err := c.Info(context.Background())
			if err != nil || info.NumPending > 0 || info.NumAckPending > 0 {
				return false
			}
		}
		return true
	}, "confirmation service idle")
}

func (h *harness) outcomes(t *testing.T, token string, want ...events.Outcome) {
	t.Helper()
	natstest.Eventually(t, 10*time.Second, func() bool { return len(h.out.of(token)) >= len(want) },
		"outcomes %v for %s", want, token)
	if got := h.out.of(token); !equal(got, want) {
		t.Fatalf("outcomes of %s = %v, want %v", token, got, want)
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestConfirmedAndUnconfirmed: of two delivered tokens, the one that
// confirms is reported confirmed and never re-sent; the other is re-sent at
// each tick (once per tick, however often the tick comes) and reported
// unconfirmed when the window ends; a confirmation after that is refused
// with the reason.
func TestConfirmedAndUnconfirmed(t *testing.T) {
	h := newHarness(t, 1)
	h.publish(t, confirmIntent("order-1", time.Hour, 20*time.Minute, "aa01", "bb02"))
	h.waitState(t, "order-1", "aa01", confirmstate.StatePendingResend)
	h.waitState(t, "order-1", "bb02", confirmstate.StatePendingResend)

	st := h.status(t, "order-1")
	if st.Watch.Resends != 2 || st.NextResend == nil || !st.NextResend.Equal(st.Watch.Start.Add(20*time.Minute)) {
		t.Fatalf("status: resends %d, next %v, start %v", st.Watch.Resends, st.NextResend, st.Watch.Start)
	}
	// The first timer waits in PUSH_CONFIRM_TIMERS as a schedule.
	timers, err := h.js.Stream(context.Background(), events.StreamConfirmTimers)
	if err != nil {
		t.Fatal(err)
	}
	sched, err := timers.GetLastMsgForSubject(context.Background(), events.ConfirmTimerSubject(app, "order-1"))
	if err != nil {
		t.Fatalf("first timer: %v", err)
	}
	if got := sched.Header.Get("Nats-Schedule"); !strings.HasPrefix(got, "@at ") {
		t.Fatalf("timer schedule %q, want @at", got)
	}

	h.confirm(t, "order-1", "aa01")
	h.outcomes(t, "aa01", events.Confirmed)

	h.fire(t, "order-1", 1)
	h.fire(t, "order-1", 1) // a repeated tick re-sends nothing more
	natstest.Eventually(t, 10*time.Second, func() bool { return len(h.prov.tokens("order-1:r1")) > 0 }, "re-send 1")
	h.fire(t, "order-1", 2)
	natstest.Eventually(t, 10*time.Second, func() bool { return len(h.prov.tokens("order-1:r2")) > 0 }, "re-send 2")
	h.fire(t, "order-1", 3)
	h.outcomes(t, "bb02", events.Unconfirmed)
	h.quiet(t)
	for _, id := range []string{"order-1:r1", "order-1:r2"} {
		if got := h.prov.tokens(id); !equal(got, []string{"bb02"}) {
			t.Errorf("%s sent to %v, want only the unconfirmed bb02", id, got)
		}
	}
	if got := h.out.of("aa01"); !equal(got, []events.Outcome{events.Confirmed}) {
		t.Errorf("aa01 outcomes %v, want only confirmed", got)
	}
	st = h.status(t, "order-1")
	if !st.Watch.Done || st.NextResend != nil || stateOf(st, "aa01") != "confirmed" || stateOf(st, "bb02") != "unconfirmed" {
		t.Fatalf("final status %+v", st)
	}

	// Too late: dead-lettered with the reason.
	h.confirm(t, "order-1", "bb02")
	dl := h.deadLetter(t)
	if !strings.Contains(dl.Reason, "unconfirmed") || dl.IntentID != "order-1" {
		t.Fatalf("late confirmation dead letter: %+v", dl)
	}
	for _, o := range []string{"confirmed", "unconfirmed"} {
		if got := h.counter(t, "pushfleet_confirmations_total", "outcome", o); got != 1 {
			t.Errorf("pushfleet_confirmations_total{outcome=%q} = %v, want 1", o, got)
		}
	}
	if got := h.counter(t, "pushfleet_confirm_resent_tokens_total", "app", app); got != 2 {
		t.Errorf("re-sent tokens = %v, want 2", got)
	}
}

// counter sums a counter over the replicas' registries, for the series
// whose label has value.
func (h *harness) counter(t *testing.T, name, label, value string) float64 {
	t.Helper()
	var sum float64
	for _, m := range h.replicas {
		mfs, err := m.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, mt := range mf.GetMetric() {
				for _, lp := range mt.GetLabel() {
					if lp.GetName() == label && lp.GetValue() == value {
						sum += mt.GetCounter().GetValue()
					}
				}
			}
		}
	}
	return sum
}

// lastDeadLetter is the confirmation stage's last dead letter, if any.
func (h *harness) lastDeadLetter(t *testing.T) *events.DeadLetter {
	t.Helper()
	s, err := h.js.Stream(context.Background(), events.StreamDead)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.GetLastMsgForSubject(context.Background(), events.DeadSubject(events.StageConfirm, app))
	if err != nil {
		return nil
	}
	var dl events.DeadLetter
	if err := json.Unmarshal(raw.Data, &dl); err != nil {
		t.Fatal(err)
	}
	return &dl
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func (h *harness) deadLetter(t *testing.T) *events.DeadLetter {
	t.Helper()
	s, err := h.js.Stream(context.Background(), events.StreamDead)
	if err != nil {
		t.Fatal(err)
	}
	var raw *jetstream.RawStreamMsg
	natstest.Eventually(t, 10*time.Second, func() bool {
		raw, err = s.GetLastMsgForSubject(context.Background(), events.DeadSubject(events.StageConfirm, app))
		return err == nil
	}, "a confirm dead letter")
	var dl events.DeadLetter
	if err := json.Unmarshal(raw.Data, &dl); err != nil {
		t.Fatal(err)
	}
	return &dl
}
