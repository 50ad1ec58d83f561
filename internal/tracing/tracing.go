// Package tracing links an intent to its jobs and feedback across services
// with W3C Trace Context (traceparent, tracestate) carried in NATS headers,
// and exports spans with OpenTelemetry over OTLP/HTTP when the standard
// OTEL_* environment variables ask for it (docs/tracing.md).
//
// Tracing is off by default. Off, Start returns the context it was given:
// no span is made and nothing is exported, but a trace context taken from
// a message's headers is still written on the messages that follow, so a
// service with tracing off does not cut a trace that others record.
package tracing

import (
	"context"
	"net/http"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// W3C Trace Context header names, as written on NATS messages (lower case,
// as the recommendation spells them).
const (
	HeaderTraceparent = "traceparent"
	HeaderTracestate  = "tracestate"
)

// Scope is the instrumentation scope of pushfleet's spans.
const Scope = "github.com/pushfleet/pushfleet"

// propagator reads and writes traceparent and tracestate whatever the
// global propagator is: the headers are part of pushfleet's messages.
var propagator = propagation.TraceContext{}

// state is the tracer in use; nil tracer: tracing is off.
type state struct{ tracer trace.Tracer }

var current atomic.Pointer[state]

// SetTracerProvider makes Start record spans with tp; nil (or a no-op
// provider) turns tracing off. Setup calls it; tests call it with an
// in-memory provider.
func SetTracerProvider(tp trace.TracerProvider) {
	if tp == nil {
		current.Store(nil)
		return
	}
	if _, ok := tp.(noop.TracerProvider); ok {
		current.Store(nil)
		return
	}
	current.Store(&state{tracer: tp.Tracer(Scope)})
}

// Enabled reports whether spans are recorded.
func Enabled() bool { return current.Load() != nil }

// Tracer is the tracer Start uses: a no-op tracer when tracing is off.
func Tracer() trace.Tracer {
	if s := current.Load(); s != nil {
		return s.tracer
	}
	return noop.Tracer{}
}

// Start starts a span of kind named name under ctx's span (or a new
// trace). With tracing off it returns ctx itself and ctx's span, which
// records nothing, without allocating: the caller's End and SetAttributes
// cost nothing, and a remote parent taken from headers stays in ctx to be
// passed on.
func Start(ctx context.Context, name string, kind trace.SpanKind) (context.Context, trace.Span) {
	s := current.Load()
	if s == nil {
		return ctx, trace.SpanFromContext(ctx)
	}
	return s.tracer.Start(ctx, name, trace.WithSpanKind(kind))
}

// Carrier adapts a nats.Header to propagation.TextMapCarrier. Get finds a
// key in any case (a producer may write Traceparent); Set writes the key as
// given.
type Carrier nats.Header

// Get returns the first value of key.
func (c Carrier) Get(key string) string {
	if v := c[key]; len(v) > 0 {
		return v[0]
	}
	for k, v := range c {
		if len(v) > 0 && len(k) == len(key) && equalFold(k, key) {
			return v[0]
		}
	}
	return ""
}

// Set replaces key's values with value.
func (c Carrier) Set(key, value string) { c[key] = []string{value} }

// Keys lists the header's keys.
func (c Carrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

func equalFold(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Extract returns ctx with the remote span context that h's traceparent
// (and tracestate) name, or ctx unchanged when h has none or it is invalid.
func Extract(ctx context.Context, h nats.Header) context.Context {
	if len(h) == 0 {
		return ctx
	}
	return propagator.Extract(ctx, Carrier(h))
}

// ExtractHTTP returns ctx with the remote span context that an HTTP
// request's traceparent (and tracestate) name, or ctx unchanged when it has
// none or it is invalid (the gateway's way in).
func ExtractHTTP(ctx context.Context, h http.Header) context.Context {
	if h.Get(HeaderTraceparent) == "" {
		return ctx
	}
	return propagator.Extract(ctx, propagation.HeaderCarrier(h))
}

// Inject writes ctx's span context as traceparent (and tracestate) on msg,
// creating its header when needed. It does nothing when ctx carries no
// valid span context.
func Inject(ctx context.Context, msg *nats.Msg) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	propagator.Inject(ctx, Carrier(msg.Header))
}

// TraceID is the trace id that h's traceparent names ("" when none).
func TraceID(h nats.Header) string {
	sc := trace.SpanContextFromContext(Extract(context.Background(), h))
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}
