//go:build pushfleet_nootlp

package tracing

import (
	"context"
	"errors"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// OTLPBuiltIn reports whether this binary can export spans.
const OTLPBuiltIn = false

// newExporter: this binary was built with -tags pushfleet_nootlp, without
// the OTLP exporter; turning tracing on fails at start rather than
// dropping spans. Trace context is still carried in headers.
func newExporter(context.Context) (sdktrace.SpanExporter, error) {
	return nil, errors.New("this binary was built without OTLP (-tags pushfleet_nootlp)")
}
