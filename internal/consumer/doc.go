// Package consumer is the one JetStream consume loop every pushfleet service
// runs: a durable pull consumer, a bounded number of messages in flight, an
// ack only after the handler finished, delayed naks that grow with the
// delivery count (or follow the provider's Retry-After), dead letters with a
// reason for what cannot succeed, and a graceful drain on shutdown.
//
// Nothing is parked and nothing is dropped: the server redelivers without
// limit (MaxDeliver -1) and the runner dead-letters a message delivered more
// than MaxAttempts times without calling its handler again, so a message
// whose handler crashes the process still ends in PUSH_DEAD. Dead letters
// always fit (events.DeadLetter.Encode truncates them to
// MaxDeadLetterBytes and the server's max_payload); one whose publish fails
// keeps its message, is counted in pushfleet_dead_letter_failures_total and
// retried with capped backoff until PUSH_DEAD takes it. Acks, naks, terms
// and in-progress signals that fail are counted in
// pushfleet_ack_errors_total.
//
// On a cluster, acks, naks and terms are confirmed by the consumer leader
// and sent again until they are (confirm.go): one lost while a new leader
// is elected would hold its message for a whole AckWait and have it
// handled twice. The pull iterator is renewed on a fresh inbox after a
// reconnect or missed heartbeats (feed.go), so that pull requests left
// behind never overflow its buffer: nothing delivered is dropped by the
// client.
//
// Handlers decide what happened (a Verdict); the runner decides what that
// means for JetStream. Handlers never ack, nak or term themselves.
package consumer
