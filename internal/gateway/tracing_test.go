package gateway_test

import (
	"context"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/pushfleet/pushfleet/internal/gateway"
	"github.com/pushfleet/pushfleet/internal/tracing"
)

const (
	clientTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	clientTraceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpanID      = "00f067aa0ba902b7"
)

// recordSpans turns tracing on for the test with an in-memory exporter.
func recordSpans(t *testing.T) *tracetest.InMemoryExporter {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tracing.SetTracerProvider(tp)
	t.Cleanup(func() {
		tracing.SetTracerProvider(nil)
		_ = tp.Shutdown(context.Background())
	})
	return exp
}

// publishOne posts one intent with hdr and returns the stored message's
// traceparent.
func (h *harness) publishOne(path string, body any, hdr ...string) string {
	h.t.Helper()
	r := h.do("POST", path, keyShop, body, hdr...)
	if r.status != http.StatusOK {
		h.t.Fatalf("status %d: %s", r.status, r.body)
	}
	var resp gateway.IntentsResponse
	r.json(h.t, &resp)
	if len(resp.Intents) != 1 || resp.Intents[0].Seq == 0 {
		h.t.Fatalf("response %+v", resp)
	}
	return h.stored(resp.Intents[0].Seq).Header.Get(tracing.HeaderTraceparent)
}

// attrs is a span's attributes by key.
func attrs(s tracetest.SpanStub) map[string]any {
	out := map[string]any{}
	for _, a := range s.Attributes {
		out[string(a.Key)] = a.Value.AsInterface()
	}
	return out
}

// With tracing on, an authenticated request is one server span under the
// caller's traceparent, and the intent it stores carries that span's
// context (so the dispatcher's span is its child); tracestate goes along.
func TestGatewaySpanIsTheIntentsParent(t *testing.T) {
	exp := recordSpans(t)
	h := newHarness(t, nil)
	tp := h.publishOne("/v1/intents", intent("traced-1", "shop"),
		"traceparent", clientTraceparent, "tracestate", "vendor=1")

	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want the request's only: %+v", len(spans), spans)
	}
	s := spans[0]
	if s.Name != "POST /v1/intents" || s.SpanKind != trace.SpanKindServer {
		t.Errorf("span %q kind %v, want POST /v1/intents, server", s.Name, s.SpanKind)
	}
	if got := s.Parent.SpanID().String(); got != clientSpanID || !s.Parent.IsRemote() {
		t.Errorf("span's parent %s (remote %v), want the caller's %s", got, s.Parent.IsRemote(), clientSpanID)
	}
	want := "00-" + clientTraceID + "-" + s.SpanContext.SpanID().String() + "-01"
	if tp != want {
		t.Errorf("stored traceparent %q, want the gateway span's %q", tp, want)
	}
	got := attrs(s)
	for k, v := range map[string]any{
		"http.request.method": "POST", "http.route": "POST /v1/intents", "http.response.status_code": int64(200),
		tracing.AttrApp: "shop", tracing.AttrIntentID: "traced-1", tracing.AttrIntents: int64(1),
		tracing.AttrAPIKey: "shop-backend",
	} {
		if got[k] != v {
			t.Errorf("span attribute %s = %v, want %v", k, got[k], v)
		}
	}
	for k, v := range got {
		if s, ok := v.(string); ok && (s == keyShop || s == "fcm-token-shop") {
			t.Errorf("span attribute %s holds a secret: %q", k, s)
		}
	}
}

// The gorush route is traced the same way, and a request without a
// traceparent starts a trace at the gateway.
func TestGorushRequestStartsATrace(t *testing.T) {
	exp := recordSpans(t)
	h := newHarness(t, nil)
	r := h.do("POST", "/api/push", keyShop, map[string]any{"notifications": []any{
		map[string]any{"tokens": []string{"tok-1"}, "platform": 2, "message": "hi"}}}, "X-Pushfleet-App", "shop")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Name != "POST /api/push" || s.Parent.IsValid() {
		t.Fatalf("span %q with parent %v, want a root POST /api/push", s.Name, s.Parent)
	}
	if n := h.count(); n != 1 {
		t.Fatalf("%d intents stored", n)
	}
	m := h.stored(1)
	if got := tracing.TraceID(m.Header); got != s.SpanContext.TraceID().String() {
		t.Errorf("stored intent in trace %q, want the gateway's %s", got, s.SpanContext.TraceID())
	}
}

// Refused before authentication (401), a request makes no span: a caller
// without a key cannot write into the operator's traces. A refused
// authenticated request (422) has its span, with its status, not an error.
func TestGatewaySpansOnlyForAuthenticatedRequests(t *testing.T) {
	exp := recordSpans(t)
	h := newHarness(t, nil)
	if r := h.do("POST", "/v1/intents", "", intent("x", "shop"), "traceparent", clientTraceparent); r.status != http.StatusUnauthorized {
		t.Fatalf("status %d", r.status)
	}
	if r := h.do("GET", "/healthz", "", nil, "traceparent", clientTraceparent); r.status != http.StatusOK {
		t.Fatalf("healthz status %d", r.status)
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Fatalf("%d spans for unauthenticated requests", n)
	}
	bad := intent("bad", "shop")
	delete(bad, "targets")
	if r := h.do("POST", "/v1/intents", keyShop, bad); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", r.status)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	if got := attrs(spans[0])["http.response.status_code"]; got != int64(422) {
		t.Errorf("status code attribute %v, want 422", got)
	}
	if spans[0].Status.Code == codes.Error {
		t.Errorf("a 422 marked the server span as an error")
	}
	if h.count() != 0 {
		t.Fatal("an invalid intent was stored")
	}
}

// With tracing off, the caller's traceparent still goes on the intent
// as given (no span of the gateway's in between), and a request without
// one stores no trace header.
func TestTracingOffPassesTheCallersTraceOn(t *testing.T) {
	tracing.SetTracerProvider(nil)
	h := newHarness(t, nil)
	if tp := h.publishOne("/v1/intents", intent("off-1", "shop"), "traceparent", clientTraceparent); tp != clientTraceparent {
		t.Errorf("stored traceparent %q, want the caller's %q", tp, clientTraceparent)
	}
	if tp := h.publishOne("/v1/intents", intent("off-2", "shop")); tp != "" {
		t.Errorf("stored traceparent %q for a request without one", tp)
	}
	if tp := h.publishOne("/v1/intents", intent("off-3", "shop"), "traceparent", "00-garbage"); tp != "" {
		t.Errorf("stored traceparent %q from an invalid one", tp)
	}
}
