package mi

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Errors of this package, besides the provider sentinels.
var (
	// ErrExpired: the notification's expiry passed before its request was
	// made. Its results are provider.Expired (final: nothing was sent); it
	// matches provider.ErrExpired.
	ErrExpired = fmt.Errorf("mi: %w", provider.ErrExpired)
	// ErrClosed: the Sender was closed. Matches provider.ErrUnavailable too.
	ErrClosed = errors.New("mi: sender closed")
	// ErrNoFeedbackHost: the app's region has no feedback host configured.
	ErrNoFeedbackHost = errors.New("mi: no feedback host for region")
	// errBadAnswer: a 200 answer without a readable MiPush body.
	errBadAnswer = errors.New("mi: unreadable answer")
)

// Error is a failed MiPush request: a non-zero code, an HTTP error status or
// a transport failure, already classified. It matches the provider sentinel
// of its class (and the transport cause, if any) with errors.Is.
type Error struct {
	// Kind applies to every target of the request.
	Kind provider.Kind
	// Code is MiPush's code; 0 for HTTP and transport failures.
	Code int
	// HTTPStatus is the answer's status; 0 when there was no answer.
	HTTPStatus int
	// Reason is the short machine reason for provider.Result.Reason: the
	// code ("20301"), "http 503", "transport", "timeout", ...
	Reason string
	// Message is MiPush's own text (reason and description), if any.
	Message string
	// TraceID is MiPush's trace_id, to quote to Xiaomi support.
	TraceID string
	// RetryAfter is a wait the answer implies (HTTP Retry-After, the daily
	// quota reset for 200001).
	RetryAfter time.Duration

	sentinel error
	cause    error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("mi: ")
	switch {
	case e.Code != 0:
		fmt.Fprintf(&b, "code %d", e.Code)
	case e.HTTPStatus != 0:
		fmt.Fprintf(&b, "http %d", e.HTTPStatus)
	default:
		b.WriteString(e.Reason)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, " %q", e.Message)
	}
	return provider.WithCauses(b.String(), e.sentinel, e.cause)
}

// Unwrap exposes the provider sentinel and the cause to errors.Is and As.
func (e *Error) Unwrap() []error {
	return provider.Causes(e.sentinel, e.cause)
}

// result is the Result of this error for one token.
func (e *Error) result(token string) provider.Result {
	return provider.Result{Token: token, Kind: e.Kind, Reason: e.Reason, RetryAfter: e.RetryAfter, Err: e}
}
