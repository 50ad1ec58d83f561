package mi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

// MiPush codes with a meaning of their own in the classification. The full
// table is in codeClass.
const (
	CodeOK             = 0
	CodeNoValidTargets = 20301  // every regid of the request is invalid
	CodeBadSecret      = 21301  // "Invalid application secret."
	CodeDailyQuota     = 200001 // daily push limit reached: stop for the day
)

// codeClass maps a non-zero MiPush code onto a Kind and provider sentinel.
//
// Sources: providers.md §0 and §3.4 (the Java SDK's ErrorCode table and one
// production sender's notes). Decisions where the sources are silent:
//   - 10001 system error and 10010 job timeout are server-side and transient: Retry.
//   - 10004 IP limit, 10005 permission, 10006 missing appkey, 10014 API
//     permission limited and 10026 app blacklisted are about the app, not
//     the message: CredentialError (tokens kept, an operator is needed).
//   - every other code, known parameter errors (10008, 10016, 10017, 10018,
//     65011, 22100–22103) and unknown ones alike, is Permanent: the SDK
//     never retries on a code, and retrying an unknown answer as is would
//     spend quota for nothing; the dead letter keeps the message for replay.
func codeClass(code int) (provider.Kind, error) {
	switch {
	case code == CodeNoValidTargets:
		return provider.InvalidToken, provider.ErrInvalidToken
	case code == CodeBadSecret, code >= 22000 && code <= 22022,
		code == 10004, code == 10005, code == 10006, code == 10014, code == 10026:
		return provider.CredentialError, provider.ErrCredentials
	case code == 10001, code == 10002, code == 10003, code == 10009, code == 10010, code == 10037:
		return provider.Retry, provider.ErrUnavailable
	case code >= 10022 && code <= 10028, code == CodeDailyQuota:
		return provider.Retry, provider.ErrRateLimited
	}
	return provider.Permanent, provider.ErrBadMessage
}

// classifyAnswer turns an HTTP answer into a successful Response (code 0)
// or a classified *Error. An HTTP 200 is never success without a body that
// says code 0.
func classifyAnswer(status int, header http.Header, body []byte, now time.Time) (*Response, error) {
	if status >= 500 {
		return nil, &Error{Kind: provider.Retry, HTTPStatus: status, Reason: "http " + strconv.Itoa(status),
			RetryAfter: retryAfter(header, now), sentinel: provider.ErrUnavailable}
	}
	resp, perr := parseResponse(status, body)
	if status != http.StatusOK && (perr != nil || resp.Code == CodeOK) {
		return nil, statusError(status, header, now)
	}
	if perr != nil {
		return nil, &Error{Kind: provider.Retry, HTTPStatus: status, Reason: "bad answer",
			sentinel: provider.ErrUnavailable, cause: perr}
	}
	if resp.Code == CodeOK {
		return resp, nil
	}
	return nil, codeError(resp, now)
}

// codeError classifies an answer with a non-zero code.
func codeError(resp *Response, now time.Time) *Error {
	kind, sentinel := codeClass(resp.Code)
	e := &Error{Kind: kind, Code: resp.Code, HTTPStatus: resp.HTTPStatus, Reason: strconv.Itoa(resp.Code),
		Message: joinText(resp.Reason, resp.Description), TraceID: resp.TraceID, sentinel: sentinel}
	if resp.Code == CodeDailyQuota {
		e.RetryAfter = untilQuotaReset(now)
	}
	return e
}

// statusError classifies a non-200, non-5xx answer without a MiPush code.
func statusError(status int, header http.Header, now time.Time) *Error {
	e := &Error{HTTPStatus: status, Reason: "http " + strconv.Itoa(status)}
	switch status {
	case http.StatusTooManyRequests:
		e.Kind, e.sentinel, e.RetryAfter = provider.Retry, provider.ErrRateLimited, retryAfter(header, now)
	case http.StatusRequestTimeout:
		e.Kind, e.sentinel = provider.Retry, provider.ErrUnavailable
	case http.StatusUnauthorized, http.StatusForbidden:
		e.Kind, e.sentinel = provider.CredentialError, provider.ErrCredentials
	case http.StatusRequestEntityTooLarge:
		e.Kind, e.sentinel = provider.Permanent, provider.ErrPayloadTooLarge
	default:
		e.Kind, e.sentinel = provider.Permanent, provider.ErrBadMessage
	}
	return e
}

// transportError classifies a request that got no answer. It is always
// Retry: the server may or may not have acted, and a context that ended
// must never be reported as delivered or permanent.
func transportError(ctx context.Context, err error) *Error {
	e := &Error{Kind: provider.Retry, Reason: "transport", sentinel: provider.ErrUnavailable, cause: err}
	var be *backoffError
	switch {
	case errors.Is(err, ErrClosed):
		e.Reason = "closed"
	case errors.As(err, &be):
		e.Reason, e.RetryAfter = "reconnect backoff", be.wait
	case ctx.Err() != nil:
		e.Reason = "canceled"
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			e.Reason = "timeout"
		}
		if !errors.Is(err, ctx.Err()) {
			e.cause = errors.Join(ctx.Err(), err)
		}
	case errors.Is(err, context.DeadlineExceeded):
		e.Reason = "timeout"
	}
	return e
}

// retryAfter reads a Retry-After header (seconds or HTTP date).
func retryAfter(h http.Header, now time.Time) time.Duration {
	return provider.ParseRetryAfter(h.Get("Retry-After"), now)
}

// chinaTime is UTC+8, where MiPush's daily quotas reset (no tzdata needed:
// China has no daylight saving time).
var chinaTime = time.FixedZone("UTC+8", 8*60*60)

// untilQuotaReset is the wait until the next midnight in China, plus a minute.
func untilQuotaReset(now time.Time) time.Duration {
	c := now.In(chinaTime)
	midnight := time.Date(c.Year(), c.Month(), c.Day()+1, 0, 1, 0, 0, chinaTime)
	return midnight.Sub(now)
}

func joinText(reason, description string) string {
	switch {
	case reason == "":
		return description
	case description == "" || strings.EqualFold(reason, description):
		return reason
	}
	return reason + " (" + description + ")"
}
