package consumer

import "time"

// Action is what the runner does with a handled message.
type Action int

// Actions.
const (
	// Ack: done (delivered, or a final outcome fully recorded).
	Ack Action = iota
	// Retry: redeliver after a delay; dead-lettered once the budget is spent.
	Retry
	// Dead: cannot succeed; publish a dead letter with the reason, then term.
	Dead
)

// Verdict is a handler's decision about one message.
type Verdict struct {
	Action Action
	// Delay is the least time to wait before a retry (e.g. Retry-After); the
	// runner's backoff applies when it is longer.
	Delay time.Duration
	// Reason is a human-readable explanation for retries and dead letters.
	Reason string
	// Category is a short, bounded reason class for metric labels
	// ("malformed", "invalid", "provider_unavailable"…).
	Category string
	// App names the app, for the dead-letter subject. Empty when unknown.
	App string
	// IntentID and Tokens are copied into the dead letter when set.
	IntentID string
	Tokens   []string
}

// Done is the verdict for a message fully handled.
func Done() Verdict { return Verdict{Action: Ack} }

// RetryAfter asks for a redelivery no sooner than d.
func RetryAfter(d time.Duration, category, reason string) Verdict {
	return Verdict{Action: Retry, Delay: d, Category: category, Reason: reason}
}

// DeadLetter gives up on the message with a reason.
func DeadLetter(app, category, reason string) Verdict {
	return Verdict{Action: Dead, App: app, Category: category, Reason: reason}
}
