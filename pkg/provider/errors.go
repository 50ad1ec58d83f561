package provider

import "errors"

// Sentinel errors carried in Result.Err.
var (
	// ErrUnknownApp: the sender has no configuration for the job's app.
	ErrUnknownApp = errors.New("app not configured for this provider")
	// ErrPayloadTooLarge: the encoded payload exceeds the provider's limit.
	ErrPayloadTooLarge = errors.New("payload too large")
	// ErrBadMessage: the provider rejected the message as malformed.
	ErrBadMessage = errors.New("message rejected by provider")
	// ErrCredentials: the provider rejected our credentials.
	ErrCredentials = errors.New("provider rejected credentials")
	// ErrUnavailable: the provider could not be reached or was overloaded.
	ErrUnavailable = errors.New("provider unavailable")
	// ErrRateLimited: the provider asked us to slow down.
	ErrRateLimited = errors.New("rate limited by provider")
	// ErrInvalidToken: the provider reported the token dead or malformed.
	ErrInvalidToken = errors.New("invalid device token")
	// ErrExpired: the notification expired before its request was made
	// (with Kind Expired).
	ErrExpired = errors.New("notification expired before sending")
	// ErrNotSent: the token was held back before any request reached the
	// provider (a quota hold, a probe in flight, the context ending while
	// it waited for a connection). It comes with Kind Retry and another
	// sentinel saying why (ErrRateLimited, ErrUnavailable). No provider
	// answered, so the JetStream side records no outcome for the token; it
	// only tries again.
	ErrNotSent = errors.New("not sent to the provider")
)

// WithCauses ends a provider error's message: msg, then ": sentinel" and
// ": cause", those not nil.
func WithCauses(msg string, sentinel, cause error) string {
	if sentinel != nil {
		msg += ": " + sentinel.Error()
	}
	if cause != nil {
		msg += ": " + cause.Error()
	}
	return msg
}

// Causes is the Unwrap() []error of a provider error that matches the
// provider sentinel and wraps cause: those of them not nil.
func Causes(sentinel, cause error) []error {
	errs := make([]error, 0, 2)
	if sentinel != nil {
		errs = append(errs, sentinel)
	}
	if cause != nil {
		errs = append(errs, cause)
	}
	return errs
}
