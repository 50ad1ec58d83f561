package provider

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Kind is the class of a provider answer for one token. It decides what the
// JetStream side does: ack, retry later, dead-letter, or pause the app.
type Kind int

// The result vocabulary shared by every provider.
const (
	// Delivered: the provider accepted the notification.
	Delivered Kind = iota + 1
	// InvalidToken: the token is dead for this app; never push to it again.
	InvalidToken
	// TokenReplaced: the provider named a new token for this device.
	TokenReplaced
	// Retry: a transient failure (rate limit, 5xx, transport); try again after
	// RetryAfter (zero: the caller's backoff decides).
	Retry
	// Permanent: the message itself is wrong; retrying as is cannot succeed.
	Permanent
	// CredentialError: our credentials or app configuration were rejected.
	// Tokens are fine and must be kept; the app's sends should pause.
	CredentialError
	// Expired: the notification's expiry had passed when the request for
	// this token was about to be made, so nothing was sent. It is final:
	// the JetStream side records the token as expired and never retries it.
	// Senders check the expiry right before each provider request, not only
	// when a job starts, so a backlog never pushes a stale notification.
	Expired
)

var kindNames = map[Kind]string{
	Delivered: "delivered", InvalidToken: "invalid_token", TokenReplaced: "token_replaced",
	Retry: "retry", Permanent: "permanent", CredentialError: "credential_error", Expired: "expired",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Result is the provider's answer for one token.
type Result struct {
	Token string
	Kind  Kind
	// Reason is the provider's reason string ("Unregistered", "QUOTA_EXCEEDED",
	// "10009"), or a short description of a transport failure.
	Reason string
	// RetryAfter is the provider's requested wait (Retry-After), if any.
	RetryAfter time.Duration
	// ProviderAt is the provider's timestamp for the outcome, if any (APNs 410).
	ProviderAt time.Time
	// AnsweredAt is when the provider's answer for this token arrived (zero
	// when no request was made). The tokens of one job answer at different
	// moments; a feedback event carries its token's own.
	AnsweredAt time.Time
	// NewToken is set with TokenReplaced.
	NewToken string
	// Err carries detail for failures; match it with errors.Is against the
	// sentinels in this package.
	Err error
}

// Error makes a failed Result usable as an error (with errors.As).
func (r Result) Error() string {
	if r.Err != nil {
		return fmt.Sprintf("%s: %s: %v", r.Kind, r.Reason, r.Err)
	}
	return fmt.Sprintf("%s: %s", r.Kind, r.Reason)
}

// Unwrap exposes Err to errors.Is.
func (r Result) Unwrap() error { return r.Err }

// All returns one Result of kind k for every token: for whole-job outcomes
// such as an unknown app or an expired context.
func All(tokens []string, k Kind, reason string, err error) []Result {
	rs := make([]Result, len(tokens))
	for i, t := range tokens {
		rs[i] = Result{Token: t, Kind: k, Reason: reason, Err: err}
	}
	return rs
}

// ExpiredResult is the result of a token whose notification expired before
// its request was made (nothing was sent).
func ExpiredResult(token string, expiry time.Time) Result {
	return Result{Token: token, Kind: Expired, Reason: "expired before sending",
		Err: fmt.Errorf("%w (expiry %s)", ErrExpired, expiry.UTC().Format(time.RFC3339))}
}

// Sent reports whether the request for r's token reached the provider:
// false for tokens held back (ErrNotSent), expired before their request or
// never classified.
func (r Result) Sent() bool {
	return r.Kind != 0 && r.Kind != Expired && !errors.Is(r.Err, ErrNotSent)
}

// TTL is how long a notification expiring at expiry may still be kept by a
// provider whose longest storage time is limit: expiry - now, clamped to
// [0, limit]. Far expiries (after 2262, year 9999) give limit: the
// difference is never computed in a time.Duration that could overflow.
func TTL(expiry, now time.Time, limit time.Duration) time.Duration {
	switch {
	case !expiry.After(now):
		return 0
	case expiry.After(now.Add(limit)):
		return limit
	}
	return expiry.Sub(now)
}

// NotSent is the Retry result of a token whose request never started
// because of err (the context's end, a dial or an encoding failure).
func NotSent(token string, err error) Result {
	reason := "not sent: " + err.Error()
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		reason = "timeout"
	case errors.Is(err, context.Canceled):
		reason = "canceled"
	}
	return Result{Token: token, Kind: Retry, Reason: reason,
		Err: fmt.Errorf("%w: %w: %w", ErrUnavailable, ErrNotSent, err)}
}

// CountKind returns how many of rs are of kind k and the index of the
// first one (-1: none).
func CountKind(rs []Result, k Kind) (n, first int) {
	first = -1
	for i, r := range rs {
		if r.Kind == k {
			n++
			if first < 0 {
				first = i
			}
		}
	}
	return n, first
}

// NonEmpty returns the non-empty tokens and their indexes in tokens.
func NonEmpty(tokens []string) ([]string, []int) {
	send := make([]string, 0, len(tokens))
	idx := make([]int, 0, len(tokens))
	for i, t := range tokens {
		if t != "" {
			send = append(send, t)
			idx = append(idx, i)
		}
	}
	return send, idx
}

// Rejected is the Permanent result, for every token, of a job whose
// message cannot be built (err): reason "PayloadTooLarge" when err is
// ErrPayloadTooLarge, "invalid message" otherwise.
func Rejected(tokens []string, err error) []Result {
	reason := "invalid message"
	if errors.Is(err, ErrPayloadTooLarge) {
		reason = "PayloadTooLarge"
	}
	return All(tokens, Permanent, reason, err)
}
