package tracing

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// benchMessage is what a handler pays per message: extract the headers'
// trace context, start and end a span, and write the header of one
// outgoing message.
func benchMessage(b *testing.B, in nats.Header) {
	b.ReportAllocs()
	for b.Loop() {
		ctx := Extract(context.Background(), in)
		ctx, span := Start(ctx, SpanSend, trace.SpanKindClient)
		if h := Header(ctx); h != nil {
			_ = Copy(h)
		}
		span.End()
	}
}

var (
	plain  = nats.Header{"Nats-Msg-Id": {"x"}}
	traced = nats.Header{"Nats-Msg-Id": {"x"}, HeaderTraceparent: {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
)

func BenchmarkOffNoTraceparent(b *testing.B) { SetTracerProvider(nil); benchMessage(b, plain) }
func BenchmarkOffTraceparent(b *testing.B)   { SetTracerProvider(nil); benchMessage(b, traced) }

func BenchmarkOn(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sdktrace.NewBatchSpanProcessor(tracetest.NewNoopExporter())))
	SetTracerProvider(tp)
	defer func() { SetTracerProvider(nil); _ = tp.Shutdown(context.Background()) }()
	benchMessage(b, traced)
}
