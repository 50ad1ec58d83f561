package send

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// A coalesced job's send span is linked to every other notification's
// trace, so that each intent's trace reaches its provider request.
func TestCoalescedSendSpanLinksEveryIntent(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	_, span := tp.Tracer("t").Start(context.Background(), "send")
	first := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	other := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	job := &events.Job{Parts: []events.Part{{IntentID: "a", Trace: first}, {IntentID: "b", Trace: other},
		{IntentID: "c"}, {IntentID: "d", Trace: "not a traceparent"}}}
	linkParts(span, job)
	span.End()
	links := rec.Ended()[0].Links()
	got := map[string]bool{}
	for _, l := range links {
		got[l.SpanContext.TraceID().String()] = true
	}
	if len(links) != 2 || !got["0af7651916cd43dd8448eb211c80319c"] || !got["4bf92f3577b34da6a3ce929d0e0e4736"] {
		t.Fatalf("links %+v, want the two valid traces", links)
	}
}
