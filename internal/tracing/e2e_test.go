package tracing_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/dispatch"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/send"
	"github.com/pushfleet/pushfleet/internal/sink"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/internal/tracing"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

const (
	parentTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	parentTraceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentSpanID      = "00f067aa0ba902b7"
)

// stubProvider delivers every token, except that, with flaky set, the
// first try of a token named tok-secret-2 fails with a temporary error (the
// sender re-queues it through its retry stream).
type stubProvider struct {
	flaky bool
	mu    sync.Mutex
	tried map[string]bool
}

func (p *stubProvider) Send(_ context.Context, job *events.Job) []provider.Result {
	rs := provider.All(job.Tokens, provider.Delivered, "", nil)
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range rs {
		if p.flaky && rs[i].Token == "tok-secret-2" && !p.tried[job.IntentID] {
			p.tried[job.IntentID] = true
			rs[i].Kind, rs[i].Reason = provider.Retry, "unavailable"
		}
	}
	return rs
}

// fleet runs a dispatcher, an FCM sender and the feedback-sink as the
// fleet wires them (consumer.Runner on the provisioned streams) over an
// in-process server, recording spans in exp.
type fleet struct {
	ctx context.Context
	js  jetstream.JetStream
	exp *tracetest.InMemoryExporter
}

func startFleet(t *testing.T, flaky bool) *fleet {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tracing.SetTracerProvider(tp)
	t.Cleanup(func() {
		tracing.SetTracerProvider(nil)
		_ = tp.Shutdown(context.Background())
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	_, js := natstest.Connect(t, natstest.RunServer(t))
	if err := streams.Provision(ctx, js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	ids, err := js.KeyValue(ctx, events.IntentIDsBucket)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, events.TokensBucket)
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	d, err := dispatch.New(dispatch.Config{IDs: ids}, js, m, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := send.New(send.Config{Platform: events.FCM, RetryBase: 10 * time.Millisecond, RetryMax: time.Second},
		&stubProvider{flaky: flaky, tried: map[string]bool{}}, js, m)
	if err != nil {
		t.Fatal(err)
	}
	sk := sink.New(sink.Config{FlushInterval: time.Hour}, tokens.NewDevices(js, kv).Store(), m)

	var runners []*consumer.Runner
	for _, rc := range []struct {
		cfg consumer.Config
		h   consumer.Handler
	}{
		{consumer.Config{Stream: events.StreamIntents, Durable: events.DurableDispatcher, Stage: events.StageIntents,
			FilterSubjects: []string{events.IntentsRoot + ".>"}}, d},
		{consumer.Config{Stream: events.SendStream(events.FCM), Durable: "sender-fcm", Stage: events.SenderStage(events.FCM),
			FilterSubjects: []string{events.SendRoot + "." + string(events.FCM) + ".*"}}, svc},
		{consumer.Config{Stream: events.RetryStream(events.FCM), Durable: "sender-fcm", Stage: events.SenderStage(events.FCM),
			FilterSubjects: []string{events.RetryRoot + "." + string(events.FCM) + ".due.>"}}, svc},
		{consumer.Config{Stream: events.StreamFeedback, Durable: events.DurableFeedbackSink, Stage: events.StageFeedback}, sk},
	} {
		rc.cfg.MaxInFlight = 4
		r, err := consumer.New(js, rc.cfg, rc.h, m)
		if err != nil {
			t.Fatal(err)
		}
		runners = append(runners, r)
	}
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Go(func() {
			if err := r.Run(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &fleet{ctx: ctx, js: js, exp: exp}
}

// publish stores an intent for two FCM tokens, with header h.
func (f *fleet) publish(t *testing.T, id string, h nats.Header) {
	t.Helper()
	in := events.Intent{ID: id, App: "shop", Notification: events.Notification{Title: "t", Body: "b"},
		Targets: events.Targets{Tokens: []events.Target{{Platform: events.FCM, Token: "tok-secret-1"},
			{Platform: events.FCM, Token: "tok-secret-2"}}}}
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.js.PublishMsg(f.ctx, &nats.Msg{Subject: events.IntentSubject("shop"), Data: body, Header: h}); err != nil {
		t.Fatal(err)
	}
}

// spans waits for the dispatch span, sends send spans and sinks sink spans
// (one per feedback message) of intent id, and returns them by name.
func (f *fleet) spans(t *testing.T, id string, sends, sinks int) map[string][]tracetest.SpanStub {
	t.Helper()
	var byName map[string][]tracetest.SpanStub
	natstest.Eventually(t, 20*time.Second, func() bool {
		byName = map[string][]tracetest.SpanStub{}
		for _, s := range f.exp.GetSpans() {
			for _, a := range s.Attributes {
				if string(a.Key) == tracing.AttrIntentID && a.Value.AsString() == id {
					byName[s.Name] = append(byName[s.Name], s)
				}
			}
		}
		return len(byName[tracing.SpanDispatch]) == 1 && len(byName[tracing.SpanSend]) == sends &&
			len(byName[tracing.SpanSink]) == sinks
	}, "spans of intent %s", id)
	return byName
}

// feedbackTraceIDs returns the trace id in the header of every feedback
// event stored for intent id.
func (f *fleet) feedbackTraceIDs(t *testing.T, id string) []string {
	t.Helper()
	s, err := f.js.Stream(f.ctx, events.StreamFeedback)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(f.ctx, seq)
		if err != nil {
			continue
		}
		fbs, _ := events.DecodeFeedbackEvents(m.Data)
		for _, fb := range fbs { // one per token
			if fb.IntentID == id {
				out = append(out, tracing.TraceID(m.Header))
			}
		}
	}
	return out
}

// One trace from an intent published with a traceparent, through the
// dispatcher (its span a child of the producer's), the job, the sender's
// provider request, the feedback events (whose headers carry the same
// trace id) and the sink. No span attribute holds a token.
func TestTraceIntentToFeedback(t *testing.T) {
	f := startFleet(t, false)
	f.publish(t, "traced", nats.Header{tracing.HeaderTraceparent: {parentTraceparent}, tracing.HeaderTracestate: {"vendor=1"}})
	byName := f.spans(t, "traced", 1, 1) // one feedback message for both tokens
	dsp, snd := byName[tracing.SpanDispatch][0], byName[tracing.SpanSend][0]

	for name, ss := range byName {
		for _, s := range ss {
			if got := s.SpanContext.TraceID().String(); got != parentTraceID {
				t.Errorf("%s span in trace %s, want %s", name, got, parentTraceID)
			}
			for _, a := range s.Attributes {
				if strings.Contains(a.Value.Emit(), "tok-secret") {
					t.Errorf("%s span attribute %s holds a token", name, a.Key)
				}
			}
		}
	}
	if got := dsp.Parent.SpanID().String(); got != parentSpanID || !dsp.Parent.IsRemote() {
		t.Errorf("dispatch span's parent %s (remote %v), want the producer's %s", got, dsp.Parent.IsRemote(), parentSpanID)
	}
	if dsp.SpanKind != trace.SpanKindConsumer || snd.SpanKind != trace.SpanKindClient {
		t.Errorf("span kinds %v, %v", dsp.SpanKind, snd.SpanKind)
	}
	if snd.Parent.SpanID() != dsp.SpanContext.SpanID() {
		t.Errorf("send span's parent %s, want the dispatch span %s", snd.Parent.SpanID(), dsp.SpanContext.SpanID())
	}
	if got := snd.Parent.TraceState().Get("vendor"); got != "1" {
		t.Errorf("tracestate not carried on the job: vendor=%q", got)
	}
	for _, s := range byName[tracing.SpanSink] {
		if s.Parent.SpanID() != snd.SpanContext.SpanID() {
			t.Errorf("sink span's parent %s, want the send span %s", s.Parent.SpanID(), snd.SpanContext.SpanID())
		}
	}
	want := map[string]any{tracing.AttrPlatform: "fcm", tracing.AttrApp: "shop", tracing.AttrTokens: int64(2),
		tracing.AttrOutcomePrefix + "delivered": int64(2), tracing.AttrVerdict: tracing.VerdictAck}
	for _, a := range snd.Attributes {
		if w, ok := want[string(a.Key)]; ok {
			if a.Value.AsInterface() != w {
				t.Errorf("send span %s=%v, want %v", a.Key, a.Value.AsInterface(), w)
			}
			delete(want, string(a.Key))
		}
	}
	if len(want) > 0 {
		t.Errorf("send span lacks %v", want)
	}
	ids := f.feedbackTraceIDs(t, "traced")
	if len(ids) != 2 {
		t.Fatalf("%d feedback events, want 2", len(ids))
	}
	for _, id := range ids {
		if id != parentTraceID {
			t.Errorf("feedback header trace id %q, want %s", id, parentTraceID)
		}
	}
}

// An intent without a traceparent starts its trace at the dispatcher; the
// feedback carries that trace.
func TestTraceStartedAtDispatcher(t *testing.T) {
	f := startFleet(t, false)
	f.publish(t, "untraced", nil)
	byName := f.spans(t, "untraced", 1, 1)
	dsp := byName[tracing.SpanDispatch][0]
	if dsp.Parent.IsValid() {
		t.Fatalf("dispatch span has parent %v, want a root", dsp.Parent)
	}
	root := dsp.SpanContext.TraceID().String()
	for name, ss := range byName {
		for _, s := range ss {
			if got := s.SpanContext.TraceID().String(); got != root {
				t.Errorf("%s span in trace %s, want the dispatcher's %s", name, got, root)
			}
		}
	}
	for _, id := range f.feedbackTraceIDs(t, "untraced") {
		if id != root {
			t.Errorf("feedback header trace id %q, want %s", id, root)
		}
	}
}

// A token the provider could not take is re-queued through the sender's
// retry stream as a new job that carries the trace: its second send is a
// child of the first, and all three feedback events (delivered, failed,
// then delivered) carry the intent's trace id.
func TestTraceThroughRequeue(t *testing.T) {
	f := startFleet(t, true)
	f.publish(t, "requeued", nats.Header{tracing.HeaderTraceparent: {parentTraceparent}})
	byName := f.spans(t, "requeued", 2, 3)
	sends := byName[tracing.SpanSend]
	first, second := sends[0], sends[1]
	if second.StartTime.Before(first.StartTime) {
		first, second = second, first
	}
	if second.Parent.SpanID() != first.SpanContext.SpanID() {
		t.Errorf("re-queued send's parent %s, want the first send %s", second.Parent.SpanID(), first.SpanContext.SpanID())
	}
	for name, ss := range byName {
		for _, s := range ss {
			if got := s.SpanContext.TraceID().String(); got != parentTraceID {
				t.Errorf("%s span in trace %s, want %s", name, got, parentTraceID)
			}
		}
	}
	ids := f.feedbackTraceIDs(t, "requeued")
	if len(ids) != 3 {
		t.Fatalf("%d feedback events, want 3", len(ids))
	}
	for _, id := range ids {
		if id != parentTraceID {
			t.Errorf("feedback header trace id %q, want %s", id, parentTraceID)
		}
	}
}
