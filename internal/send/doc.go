// Package send is the JetStream side of a provider sender: it takes delivery
// jobs off a platform's stream, hands them to a provider.Sender, reports one
// feedback event per provider answer, and decides from the answers what
// happens next: ack, retry the whole job later, re-queue only the tokens
// that can be retried, dead-letter what cannot succeed, or pause an app
// whose credentials were rejected.
//
// Outcomes. Delivered, invalid_token, token_replaced, expired and dead are
// final; failed is not (a retry follows). A token the provider reports
// Expired (its expiry passed before its request) is expired; so is a token
// whose next try would come after its expiry: it is reported now rather
// than scheduled. A token the provider held back without a request
// (provider.ErrNotSent: a quota hold, a probe in flight, the context
// ending while it waited) gets no event at all, only another try.
//
// Re-queues are one-shot message schedules in the platform's retry stream
// (events.RetryStream, subject events.RetrySubject), released on
// events.RetryDueSubject, which the sender consumes with a second consumer
// running the same Service; each is counted in pushfleet_retries_total.
//
// The circuit breaker learns how every call it let through ended, through
// the done func of its wait, deferred: a probe that never reached the
// provider (expired, held back, panicked) lets the next job probe at once.
package send
