package dispatch_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/dispatch"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/tracing"
	"github.com/pushfleet/pushfleet/pkg/events"
)

const (
	producerTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	producerTraceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
	producerSpanID      = "00f067aa0ba902b7"
)

// publishTraced stores in on push.intents.<app> with a producer's trace
// context and a header that must not reach the schedule.
func (h *harness) publishTraced(t *testing.T, in *events.Intent) {
	t.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	msg := &nats.Msg{Subject: events.IntentSubject(in.App), Data: body, Header: nats.Header{
		tracing.HeaderTraceparent: {producerTraceparent}, tracing.HeaderTracestate: {"vendor=1"},
		"X-Producer": {"not for the schedule"},
	}}
	if _, err := h.js.PublishMsg(h.ctx, msg); err != nil {
		t.Fatal(err)
	}
}

// runDispatcher runs d on the intents and on its due schedules as the
// fleet does (consumer.Runner, which takes each message's trace context).
func (h *harness) runDispatcher(t *testing.T, d *dispatch.Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(h.ctx)
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for _, cfg := range []consumer.Config{
		{Stream: events.StreamIntents, Durable: events.DurableDispatcher, Stage: events.StageIntents,
			FilterSubjects: []string{events.IntentsRoot + ".>"}},
		{Stream: events.StreamSchedules, Durable: events.DurableDispatcher, Stage: events.StageIntents,
			FilterSubjects: []string{events.DueRoot + ".>"}},
	} {
		r, err := consumer.New(h.js, cfg, d, h.m)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if err := r.Run(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}

// The schedule of a send_at intent carries the intent's trace context
// (traceparent and tracestate, re-encoded) among pushfleet's own headers,
// and no other header of the producer's. Tracing is off here: the
// producer's context is passed on as it came.
func TestScheduleCarriesTheTraceContext(t *testing.T) {
	tracing.SetTracerProvider(nil)
	h := newHarness(t)
	d := h.dispatcher(t, dispatch.Config{}, nil)
	in := intent("traced-later", "shop", tokens(events.FCM, "f1")...)
	at := time.Now().Add(48 * time.Hour)
	in.SendAt = &at
	h.publishTraced(t, in)
	// As the runner does: the handler's context holds the message's trace.
	cons, err := h.js.CreateOrUpdateConsumer(h.ctx, events.StreamIntents, jetstreamConsumer())
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if v := d.Handle(tracing.Extract(h.ctx, msg.Headers()), msg); v.Action != consumer.Ack {
		t.Fatalf("verdict %+v", v)
	}
	scheds := h.stored(t, events.StreamSchedules, events.ScheduleSubject("shop", "traced-later"))
	if len(scheds) != 1 {
		t.Fatalf("%d schedules stored, want 1", len(scheds))
	}
	hdr := scheds[0].Header
	if got := hdr.Get(tracing.HeaderTraceparent); got != producerTraceparent {
		t.Errorf("schedule traceparent %q, want %q", got, producerTraceparent)
	}
	if got := hdr.Get(tracing.HeaderTracestate); got != "vendor=1" {
		t.Errorf("schedule tracestate %q, want vendor=1", got)
	}
	if got := hdr.Get("X-Producer"); got != "" {
		t.Errorf("a producer's header reached the schedule: %q", got)
	}
}

// A send_at intent keeps its trace through PUSH_SCHEDULES: nats-server
// copies the schedule's headers onto the intent it releases on
// push.due.<app>, so the due dispatch span is a child of the dispatch span
// that scheduled it, in the producer's trace, and the job it publishes
// carries the due span's context.
func TestDueIntentContinuesItsTrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tracing.SetTracerProvider(tp)
	t.Cleanup(func() {
		tracing.SetTracerProvider(nil)
		_ = tp.Shutdown(context.Background())
	})
	h := newHarness(t)
	d := h.dispatcher(t, dispatch.Config{}, nil)
	h.runDispatcher(t, d)

	in := intent("due-traced", "shop", tokens(events.FCM, "f1")...)
	at := time.Now().Add(time.Second)
	in.SendAt = &at
	h.publishTraced(t, in)

	var first, due []tracetest.SpanStub
	natstest.Eventually(t, 10*time.Second, func() bool {
		first, due = nil, nil
		for _, s := range exp.GetSpans() {
			if s.Name != tracing.SpanDispatch {
				continue
			}
			var isDue, ours bool
			for _, a := range s.Attributes {
				switch string(a.Key) {
				case tracing.AttrIntentID:
					ours = a.Value.AsString() == "due-traced"
				case tracing.AttrDue:
					isDue = a.Value.AsBool()
				}
			}
			switch {
			case ours && isDue:
				due = append(due, s)
			case ours:
				first = append(first, s)
			}
		}
		return len(first) == 1 && len(due) == 1
	}, "the scheduling and the due dispatch spans")

	sched, rel := first[0], due[0]
	if got := sched.Parent.SpanID().String(); got != producerSpanID || !sched.Parent.IsRemote() {
		t.Errorf("scheduling span's parent %s, want the producer's %s", got, producerSpanID)
	}
	if got := rel.SpanContext.TraceID().String(); got != producerTraceID {
		t.Fatalf("due dispatch in trace %s, want the producer's %s (a new trace was started)", got, producerTraceID)
	}
	if rel.Parent.SpanID() != sched.SpanContext.SpanID() || !rel.Parent.IsRemote() {
		t.Errorf("due dispatch span's parent %s, want the scheduling span %s", rel.Parent.SpanID(), sched.SpanContext.SpanID())
	}
	if got := rel.Parent.TraceState().Get("vendor"); got != "1" {
		t.Errorf("tracestate lost through the schedule: vendor=%q", got)
	}
	jobs := h.stored(t, events.SendStream(events.FCM), events.SendSubject(events.FCM, "shop"))
	if len(jobs) != 1 {
		t.Fatalf("%d jobs, want 1", len(jobs))
	}
	want := "00-" + producerTraceID + "-" + rel.SpanContext.SpanID().String() + "-01"
	if got := jobs[0].Header.Get(tracing.HeaderTraceparent); got != want {
		t.Errorf("job traceparent %q, want the due span's %q", got, want)
	}
}
