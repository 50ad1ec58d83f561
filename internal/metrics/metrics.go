// Package metrics holds pushfleet's Prometheus instruments. Every process owns
// one registry (never the global default) and passes *Fleet to its services.
// Labels are low-cardinality only: platform, app, outcome, stage, reason
// category. Never a token, device or user.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pushfleet/pushfleet/internal/version"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Fleet is the set of instruments shared by the dispatcher, senders and sink.
// A nil *Fleet is not valid; use New with a fresh registry in tests.
type Fleet struct {
	Registry *prometheus.Registry

	// Notifications counts per-token outcomes by platform, app and outcome.
	Notifications *prometheus.CounterVec
	// IntentToProvider is the time from intent accepted to provider answer.
	IntentToProvider *prometheus.HistogramVec
	// Intents counts intents by app and result (accepted, invalid, scheduled…).
	Intents *prometheus.CounterVec
	// Jobs counts delivery jobs published by platform.
	Jobs *prometheus.CounterVec
	// Retries counts delayed redeliveries by stage and reason category.
	Retries *prometheus.CounterVec
	// DeadLetters counts dead letters by stage and reason category.
	DeadLetters *prometheus.CounterVec
	// Suppressed counts tokens dropped because the registry marks them invalid.
	Suppressed *prometheus.CounterVec
	// HandlerSeconds is the time a stage spends on one message.
	HandlerSeconds *prometheus.HistogramVec
	// InFlight is messages being handled per stage.
	InFlight *prometheus.GaugeVec
	// ConsumerPending is a durable consumer's lag read from JetStream:
	// messages not yet delivered plus delivered and not yet acked.
	ConsumerPending *prometheus.GaugeVec
	// AppsPaused is 1 while an app's sends on a platform are paused after a
	// credential error.
	AppsPaused *prometheus.GaugeVec
	// CircuitOpen is 1 while a sender's circuit breaker holds back calls to
	// an unavailable provider.
	CircuitOpen *prometheus.GaugeVec
	// TokenUpdates counts token-state changes made by the feedback-sink.
	TokenUpdates *prometheus.CounterVec

	// DeadLetterFailures counts dead-letter publishes that failed (the
	// message is kept and retried): an operator's alarm, PUSH_DEAD is broken.
	DeadLetterFailures *prometheus.CounterVec
	// AckErrors counts acks, naks, terms and in-progress signals that could
	// not be sent, by stage and operation (ack, nak, term, in_progress): the
	// message comes back after the ack wait (a lost ack: its work is done
	// again).
	AckErrors *prometheus.CounterVec
	// AckRetries counts acks, naks and terms that the consumer leader did
	// not confirm at the first try and were sent again, by stage and
	// operation: a consumer leader changing (a node lost, a rolling
	// restart) shows here before anything waits an AckWait.
	AckRetries *prometheus.CounterVec
	// DuplicateJobs counts delivery jobs a sender dropped because another
	// message had already taken the same job (send.Config.IDs), by platform.
	DuplicateJobs *prometheus.CounterVec

	// BuildInfo is 1, labelled with the running build's version, revision
	// and Go version (internal/version): which build each pod runs.
	BuildInfo *prometheus.GaugeVec

	// apps bounds the app label (see App).
	apps appLabels

	// Provider are the provider-side instruments (request latency, in flight,
	// open connections, credential errors).
	Provider *provider.Metrics
}

// New registers every instrument, plus Go and process collectors, on a new registry.
func New() *Fleet {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	latency := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	f := &Fleet{
		Registry: reg,
		Notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushfleet_notifications_total",
			Help: "Notifications by platform, app and outcome (delivered, invalid_token, token_replaced, failed, expired, dead, suppressed).",
		}, []string{"platform", "app", "outcome"}),
		IntentToProvider: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pushfleet_intent_to_provider_seconds",
			Help:    "Time from an intent being accepted to the provider's answer, by platform.",
			Buckets: latency,
		}, []string{"platform"}),
		Intents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushfleet_intents_total",
			Help: "Intents handled by the dispatcher, by app and result (dispatched, invalid, expired, empty).",
		}, []string{"app", "result"}),
		Jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushfleet_jobs_published_total",
			Help: "Delivery jobs published by the dispatcher or re-queued by senders, by platform.",
		}, []string{"platform"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushfleet_retries_total",
			Help: "Delayed redeliveries by stage and reason category.",
		}, []string{"stage", "reason"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushfleet_dead_letters_total",
			Help: "Messages sent to PUSH_DEAD by stage and reason category.",
		}, []string{"stage", "reason"}),
		Suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushfleet_suppressed_tokens_total",
			Help: "Tokens not sent to because the registry marks them invalid, by platform and app.",
		}, []string{"platform", "app"}),
		HandlerSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pushfleet_handler_duration_seconds",
			Help:    "Time a stage spends handling one message, by stage.",
			Buckets: latency,
		}, []string{"stage"}),
		InFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pushfleet_messages_in_flight",
			Help: "Messages being handled, by stage.",
		}, []string{"stage"}),
		ConsumerPending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pushfleet_consumer_lag_messages",
			Help: "A durable consumer's lag from JetStream: pending plus unacknowledged messages.",
		}, []string{"stream", "consumer"}),
		AppsPaused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pushfleet_app_paused",
			Help: "1 while an app's sends on a platform are paused after a credential error.",
		}, []string{"platform", "app"}),
		CircuitOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pushfleet_circuit_open",
			Help: "1 while a sender's circuit breaker holds back calls to an unavailable provider.",
		}, []string{"platform"}),
		TokenUpdates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushfleet_token_updates_total",
			Help: "Token-state changes written by the feedback-sink, by platform and change.",
		}, []string{"platform", "change"}),
		DeadLetterFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushfleet_dead_letter_failures_total",
			Help: "Dead-letter publishes that failed, by stage; the message is kept and retried.",
		}, []string{"stage"}),
		AckErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushfleet_ack_errors_total",
			Help: "Acks, naks, terms and in-progress signals that could not be sent, by stage and operation (ack, nak, term, in_progress).",
		}, []string{"stage", "op"}),
		DuplicateJobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushfleet_duplicate_jobs_total",
			Help: "Delivery jobs dropped by a sender because the same job was already taken (stored again after its stream forgot its id), by platform.",
		}, []string{"platform"}),
		AckRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushfleet_ack_retries_total",
			Help: "Acks, naks and terms sent again because the consumer leader did not confirm them at once, by stage and operation.",
		}, []string{"stage", "op"}),
	}
	f.BuildInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "pushfleet_build_info",
		Help: "Always 1: the running build's version, source revision and Go version.",
	}, []string{"version", "revision", "go"})
	bi := version.Get()
	f.BuildInfo.WithLabelValues(bi.Version, bi.Revision, bi.Go).Set(1)
	reg.MustRegister(f.BuildInfo)
	f.apps.max = DefaultMaxApps
	reg.MustRegister(f.DeadLetterFailures, f.AckErrors, f.AckRetries, f.DuplicateJobs)
	reg.MustRegister(f.Notifications, f.IntentToProvider, f.Intents, f.Jobs, f.Retries, f.DeadLetters,
		f.Suppressed, f.HandlerSeconds, f.InFlight, f.ConsumerPending, f.AppsPaused, f.CircuitOpen, f.TokenUpdates)
	f.Provider = provider.NewMetrics(reg)
	// Provider metrics label apps too: bounded the same way in every
	// process (the sandbox senders of the all-in-one included).
	f.Provider.SetAppLabel(f.App)
	return f
}
