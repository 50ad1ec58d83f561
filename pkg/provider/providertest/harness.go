package providertest

import (
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Failure is a fault a Fake can inject into its next answers.
type Failure int

// Faults every fake supports.
const (
	// RateLimited answers the provider's "slow down" (APNs 429, FCM 429
	// QUOTA_EXCEEDED, Mi 10023) with a Retry-After where the protocol has one.
	RateLimited Failure = iota + 1
	// Unavailable answers 503 (Mi: 10009 system busy).
	Unavailable
	// Internal answers 500 (Mi: HTTP 500).
	Internal
	// AuthFailure rejects the credentials (APNs 403 InvalidProviderToken,
	// FCM 401 THIRD_PARTY_AUTH_ERROR, Mi 21301).
	AuthFailure
	// BadRequest rejects the message as malformed (APNs 400 BadTopic…,
	// FCM 400 INVALID_ARGUMENT, Mi 10017).
	BadRequest
	// DropConnection closes the connection without answering.
	DropConnection
)

// Fake is the control surface of a provider fake that the suite drives.
type Fake interface {
	// SetDead makes the fake report token as dead (unregistered).
	SetDead(token string)
	// FailNext makes the next n requests answer with f. retryAfter is sent
	// where the protocol carries one (zero: none).
	FailNext(n int, f Failure, retryAfter time.Duration)
	// SetLatency delays every answer by d.
	SetLatency(d time.Duration)
	// Delivered returns how many times a notification reached token.
	Delivered(token string) int
	// RequestTimes returns when each push request reached the fake, in
	// order, whatever its answer (feedback polls and OAuth excluded).
	RequestTimes() []time.Time
}

// Features declares what a provider guarantees, so checks that do not apply
// are skipped with a reason rather than failed.
type Features struct {
	// MaxBatch is the most tokens one job may carry for this provider.
	MaxBatch int
	// RetryAfter: the provider's rate-limit answer carries a wait time.
	RetryAfter bool
	// MaxPayload is the provider's payload limit in bytes (0: not checked).
	MaxPayload int
}

// Harness is what a provider's test hands the suite.
type Harness struct {
	Platform events.Platform
	// App is configured in Sender against Fake.
	App    string
	Sender provider.Sender
	// Serial, if set, is a sender for App against Fake that makes at most
	// one provider request at a time (a pool of one), for the checks that
	// need a backlog. Nil skips them.
	Serial provider.Sender
	Fake   Fake
	// Token returns the i-th distinct well-formed token for this provider.
	Token    func(i int) string
	Features Features
}
