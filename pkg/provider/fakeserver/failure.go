package fakeserver

import "fmt"

// Failure is a fault a fake can inject into its next answers (see
// Control.FailNext). Each fake maps it onto its provider's protocol.
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

// String names f for messages: "rate-limited", "drop-connection"…
func (f Failure) String() string {
	names := map[Failure]string{RateLimited: "rate-limited", Unavailable: "unavailable", Internal: "internal",
		AuthFailure: "auth-failure", BadRequest: "bad-request", DropConnection: "drop-connection"}
	if s, ok := names[f]; ok {
		return s
	}
	return fmt.Sprintf("Failure(%d)", int(f))
}
