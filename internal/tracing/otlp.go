//go:build !pushfleet_nootlp

package tracing

import (
	"context"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// OTLPBuiltIn reports whether this binary can export spans.
const OTLPBuiltIn = true

// newExporter is the OTLP/HTTP exporter, configured by the
// OTEL_EXPORTER_OTLP_* environment. It links gRPC and grpc-gateway (the
// OTLP collector protocol package holds both): 5-6 MB of a stripped
// binary that has neither otherwise (the dispatcher, feedback-sink,
// gateway, pushctl), under 1 MB for the senders, which link gRPC anyway
// through FCM's Google client. A build with -tags pushfleet_nootlp
// leaves it out (otlp_off.go).
func newExporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	return otlptracehttp.New(ctx)
}
