// Package send is the JetStream side of a provider sender: it takes delivery
// jobs off a platform's stream, hands them to a provider.Sender, reports one
// feedback event per token, and decides from the provider's answers what
// happens next: ack, retry the whole job later, re-queue only the tokens
// that can be retried, dead-letter what cannot succeed, or pause an app
// whose credentials were rejected.
package send
