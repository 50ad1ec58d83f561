package gateway

import (
	"context"
	"net/http"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/pushfleet/pushfleet/internal/tracing"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// traced makes one server span per request of route under the request's
// traceparent (or a new trace), and hands the handler a context holding
// it, so the intents it publishes carry it (tracePublisher). It runs after
// authentication: an unauthenticated caller cannot put spans into the
// operator's traces. With tracing off the request's own trace context, if
// any, still goes on the intents.
func (g *Gateway) traced(route string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := tracing.ExtractHTTP(r.Context(), r.Header)
		ctx, span := tracing.Start(ctx, route, trace.SpanKindServer)
		if !span.IsRecording() {
			// Off (or not sampled): only the context to pass on, if any.
			if ctx != r.Context() {
				r = r.WithContext(ctx)
			}
			h(w, r)
			return
		}
		span.SetAttributes(semconv.HTTPRequestMethodKey.String(r.Method), semconv.HTTPRouteKey.String(route))
		if k := keyOf(r); k != nil {
			span.SetAttributes(attribute.String(tracing.AttrAPIKey, k.Name))
		}
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			code := sw.code
			if code == 0 {
				code = http.StatusOK
			}
			span.SetAttributes(semconv.HTTPResponseStatusCodeKey.Int(code))
			// A server span is an error only for a 5xx: a 4xx is the
			// client's (OpenTelemetry's HTTP conventions).
			if code >= http.StatusInternalServerError {
				span.SetStatus(codes.Error, http.StatusText(code))
			}
			span.End()
		}()
		h(sw, r.WithContext(ctx))
	}
}

// recordIntents notes on ctx's span how many intents a request publishes
// and, for one, its app and id: an operator finds the trace by intent id
// as with the dispatcher's spans.
func recordIntents(ctx context.Context, ins []*events.Intent) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.Int(tracing.AttrIntents, len(ins)))
	if len(ins) == 1 {
		span.SetAttributes(attribute.String(tracing.AttrApp, ins[0].App), attribute.String(tracing.AttrIntentID, ins[0].ID))
	}
}

// tracePublisher writes the trace context of each publish's ctx on the
// message (traceparent, tracestate), so that the dispatcher's span for an
// intent is a child of the request's. events.Publisher publishes through it.
type tracePublisher struct{ jetstream.Publisher }

func (p tracePublisher) PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	tracing.Inject(ctx, msg)
	return p.Publisher.PublishMsg(ctx, msg, opts...)
}
