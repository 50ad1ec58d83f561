package tracing

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

const (
	testTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	testTraceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
)

// clearOTelEnv unsets every OTEL_* variable for the test (restored after).
func clearOTelEnv(t *testing.T) {
	for _, k := range []string{EnvSDKDisabled, EnvTracesExporter, EnvEndpoint, EnvTracesEndpoint, EnvProtocol,
		EnvTracesProtocol, EnvServiceName, "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

func TestCarrierRoundTrip(t *testing.T) {
	in := nats.Header{"Traceparent": {testTraceparent}, "tracestate": {"vendor=x"}}
	if got := TraceID(in); got != testTraceID {
		t.Fatalf("trace id %q from a capitalised header, want %s", got, testTraceID)
	}
	ctx := Extract(context.Background(), in)
	msg := &nats.Msg{Subject: "x"}
	Inject(ctx, msg)
	if got := msg.Header.Get(HeaderTraceparent); got != testTraceparent {
		t.Fatalf("traceparent %q, want %q", got, testTraceparent)
	}
	if got := msg.Header.Get(HeaderTracestate); got != "vendor=x" {
		t.Fatalf("tracestate %q", got)
	}
	// Nothing to carry: no header is made.
	empty := &nats.Msg{Subject: "x"}
	Inject(context.Background(), empty)
	if empty.Header != nil || Header(context.Background()) != nil {
		t.Fatal("a header was made without a trace")
	}
	if TraceID(nats.Header{HeaderTraceparent: {"garbage"}}) != "" || TraceID(nil) != "" {
		t.Fatal("an invalid traceparent was taken")
	}
	h := Header(ctx)
	c := Copy(h)
	c.Set("Nats-Msg-Id", "1")
	if len(h) != 2 {
		t.Fatalf("Copy shares its map: %v", h)
	}
}

func TestWanted(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		on, bad bool
	}{
		{env: nil},
		{env: map[string]string{EnvEndpoint: "http://collector:4318"}, on: true},
		{env: map[string]string{EnvTracesEndpoint: "http://collector:4318/v1/traces"}, on: true},
		{env: map[string]string{EnvTracesExporter: "otlp"}, on: true},
		{env: map[string]string{EnvTracesExporter: "none", EnvEndpoint: "http://c:4318"}},
		{env: map[string]string{EnvSDKDisabled: "true", EnvTracesExporter: "otlp"}},
		{env: map[string]string{EnvTracesExporter: "zipkin"}, bad: true},
		{env: map[string]string{EnvTracesExporter: "otlp", EnvProtocol: "grpc"}, bad: true},
		{env: map[string]string{EnvTracesExporter: "otlp", EnvProtocol: "grpc", EnvTracesProtocol: "http/protobuf"}, on: true},
	} {
		on, err := Wanted(func(k string) string { return tc.env[k] })
		if on != tc.on || (err != nil) != tc.bad {
			t.Errorf("%v: on=%v err=%v, want on=%v error=%v", tc.env, on, err, tc.on, tc.bad)
		}
	}
}

// collector counts OTLP/HTTP trace exports.
func collector(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/v1/traces" {
			n.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// With no OTEL_* variable nothing is set up or exported, and a handler's
// span is the context's own, recording nothing: the overhead path is a
// no-op tracer. A traceparent taken from headers still passes through.
func TestOffByDefault(t *testing.T) {
	clearOTelEnv(t)
	before := otel.GetTracerProvider()
	stop, err := Setup(context.Background(), "dispatcher", nil)
	if err != nil {
		t.Fatal(err)
	}
	if Enabled() {
		t.Fatal("tracing on without any OTEL_* variable")
	}
	if _, ok := Tracer().(noop.Tracer); !ok {
		t.Fatalf("tracer %T, want the no-op tracer", Tracer())
	}
	if otel.GetTracerProvider() != before {
		t.Fatal("Setup installed a global tracer provider while off")
	}
	ctx := context.Background()
	got, span := Start(ctx, SpanDispatch, trace.SpanKindConsumer)
	if got != ctx || span.IsRecording() || span.SpanContext().IsValid() {
		t.Fatal("Start made a span while tracing is off")
	}
	remote := Extract(ctx, nats.Header{HeaderTraceparent: {testTraceparent}})
	got, span = Start(remote, SpanSend, trace.SpanKindClient)
	span.End()
	if got != remote || span.IsRecording() {
		t.Fatal("Start made a span under a remote parent while tracing is off")
	}
	if h := Header(got); h.Get(HeaderTraceparent) != testTraceparent {
		t.Fatalf("traceparent not passed through while off: %v", h)
	}
	if err := stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Off explicitly, with an endpoint set: still nothing is exported.
	srv, exports := collector(t)
	t.Setenv(EnvEndpoint, srv.URL)
	t.Setenv(EnvTracesExporter, "none")
	stop, err = Setup(context.Background(), "dispatcher", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, span = Start(ctx, SpanDispatch, trace.SpanKindConsumer)
	span.End()
	if err := stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if Enabled() || exports.Load() != 0 {
		t.Fatalf("enabled=%v, %d exports with OTEL_TRACES_EXPORTER=none", Enabled(), exports.Load())
	}
}

// OTEL_EXPORTER_OTLP_ENDPOINT turns tracing on: spans reach the collector
// over OTLP/HTTP by the time the shutdown returns.
func TestOnWithEndpoint(t *testing.T) {
	clearOTelEnv(t)
	if !OTLPBuiltIn {
		t.Setenv(EnvEndpoint, "http://localhost:4318")
		if _, err := Setup(context.Background(), "sender", nil); err == nil || Enabled() {
			t.Fatal("a build without OTLP turned tracing on")
		}
		t.Skip("built with -tags pushfleet_nootlp")
	}
	srv, exports := collector(t)
	t.Setenv(EnvEndpoint, srv.URL)
	t.Setenv(EnvServiceName, "sender-fcm-test")
	prev := otel.GetTracerProvider()
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	stop, err := Setup(context.Background(), "sender", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !Enabled() {
		t.Fatal("tracing off with OTEL_EXPORTER_OTLP_ENDPOINT set")
	}
	if _, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider); !ok {
		t.Fatalf("global provider %T", otel.GetTracerProvider())
	}
	ctx := Extract(context.Background(), nats.Header{HeaderTraceparent: {testTraceparent}})
	_, span := Start(ctx, SpanSend, trace.SpanKindClient)
	if !span.IsRecording() || span.SpanContext().TraceID().String() != testTraceID {
		t.Fatalf("span %v not recording in the parent's trace", span.SpanContext())
	}
	span.End()
	if err := stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if exports.Load() == 0 {
		t.Fatal("no OTLP export reached the collector")
	}
	if Enabled() {
		t.Fatal("still on after shutdown")
	}
}

// The service name defaults to the binary's; OTEL_SERVICE_NAME wins.
func TestServiceName(t *testing.T) {
	clearOTelEnv(t)
	res, err := newResource(context.Background(), "dispatcher")
	if err != nil {
		t.Fatal(err)
	}
	if got := serviceName(res, ""); got != "dispatcher" {
		t.Fatalf("service name %q, want the binary's", got)
	}
	t.Setenv(EnvServiceName, "dispatcher-eu")
	res, err = newResource(context.Background(), "dispatcher")
	if err != nil {
		t.Fatal(err)
	}
	if got := serviceName(res, ""); got != "dispatcher-eu" {
		t.Fatalf("service name %q, want OTEL_SERVICE_NAME's", got)
	}
}
