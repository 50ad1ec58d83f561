package fakeserver

import "time"

// Control is the control surface every provider fake implements, the one
// the conformance suite (pkg/provider/providertest) and the fault tests drive.
type Control interface {
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
