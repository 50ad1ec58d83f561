package tracing

import (
	"context"
	"maps"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Span names. The gateway's span (a server span for one authenticated
// API request, under the request's traceparent) has none of these: it is
// named after its route, as OpenTelemetry's HTTP conventions say ("POST
// /v1/intents"), and the intents it publishes carry its context.
const (
	// SpanDispatch: the dispatcher taking one intent (intake, dedup,
	// schedule or fan-out into jobs).
	SpanDispatch = "pushfleet.dispatch"
	// SpanSend: a sender delivering one job: the provider request batch
	// (one provider.Sender.Send call) and the settling of its results
	// (feedback, re-queue, dead letter).
	SpanSend = "pushfleet.send"
	// SpanSink: the feedback-sink applying one feedback message, all of
	// its per-token events (counted: AttrTokens, AttrOutcomePrefix).
	SpanSink = "pushfleet.sink"
)

// Attribute keys. No attribute ever holds a device token: tokens are
// counted, never named.
const (
	AttrApp      = "pushfleet.app"
	AttrPlatform = "pushfleet.platform"
	AttrIntentID = "pushfleet.intent_id"
	AttrJobID    = "pushfleet.job_id"
	AttrAttempt  = "pushfleet.attempt"
	// AttrDue: the intent came back from its schedule (send_at).
	AttrDue = "pushfleet.due"
	// AttrTokens is how many tokens a job, or events a feedback message,
	// carries.
	AttrTokens = "pushfleet.tokens"
	// AttrOutcome is the outcome of a feedback message of one event (sink).
	AttrOutcome = "pushfleet.outcome"
	// AttrIntents is how many intents one gateway request carried (or
	// notifications a coalesced job, on its send span, in place of
	// AttrIntentID), and AttrAPIKey the name of the request's API key (the
	// keys file's, never the key).
	AttrIntents = "pushfleet.intents"
	AttrAPIKey  = "pushfleet.api_key"
	// AttrOutcomePrefix + an outcome (delivered, failed, invalid_token…)
	// counts a send's provider answers, or a feedback message's events,
	// with that outcome.
	AttrOutcomePrefix = "pushfleet.outcome."
	// AttrVerdict is the handler's verdict: ack, retry or dead; AttrCategory
	// its bounded category (no free text).
	AttrVerdict  = "pushfleet.verdict"
	AttrCategory = "pushfleet.category"
)

// Verdicts, as AttrVerdict values.
const (
	VerdictAck   = "ack"
	VerdictRetry = "retry"
	VerdictDead  = "dead"
)

// SetVerdict records a handler's verdict on span; a retry or a dead letter
// marks the span as an error described by its category.
func SetVerdict(span trace.Span, verdict, category string) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String(AttrVerdict, verdict))
	if verdict == VerdictAck {
		return
	}
	if category != "" {
		span.SetAttributes(attribute.String(AttrCategory, category))
	}
	span.SetStatus(codes.Error, verdict+": "+category)
}

// Header is a NATS header holding ctx's traceparent (and tracestate), or
// nil when ctx has no valid span context. Each message needs its own copy
// (publish options write into it): see Copy.
func Header(ctx context.Context) nats.Header {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	h := nats.Header{}
	propagator.Inject(ctx, Carrier(h))
	return h
}

// Copy returns a copy of h for one message (nil for nil): the values
// are shared, which is safe as no one changes them in place.
func Copy(h nats.Header) nats.Header {
	if h == nil {
		return nil
	}
	return maps.Clone(h)
}
