// Package consumer is the one JetStream consume loop every pushfleet service
// runs: a durable pull consumer, a bounded number of messages in flight, an
// ack only after the handler finished, delayed naks that grow with the
// delivery count (or follow the provider's Retry-After), dead letters with a
// reason for what cannot succeed, and a graceful drain on shutdown.
//
// Handlers decide what happened (a Verdict); the runner decides what that
// means for JetStream. Handlers never ack, nak or term themselves.
package consumer
