package fcm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"firebase.google.com/go/v4/errorutils"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

// reasonContext is the Reason of tokens left unanswered when ctx ended.
const reasonContext = "context ended before FCM answered"

// typeFcmError marks the FCM-specific detail of a Google API error.
const typeFcmError = "type.googleapis.com/google.firebase.fcm.v1.FcmError"

// apiError is the body of a Google API error answer.
type apiError struct {
	Error struct {
		Message string `json:"message"`
		Status  string `json:"status"`
		Details []struct {
			Type            string `json:"@type"`
			ErrorCode       string `json:"errorCode"`
			FieldViolations []struct {
				Field string `json:"field"`
			} `json:"fieldViolations"`
		} `json:"details"`
	} `json:"error"`
}

// answer is what classify needs of one FCM error answer.
type answer struct {
	httpStatus int
	status     string // platform status, e.g. NOT_FOUND
	code       string // FcmError errorCode; empty when absent
	message    string
	fields     []string // google.rpc.BadRequest field violations
	retryAfter time.Duration
}

// classify maps the Admin SDK's error for one message (nil: delivered) to a
// Result, following docs/providers.md §0 and §2.3. It must see the SDK's
// error as returned: the SDK's helpers and errorutils.HTTPResponse do not
// look through wrapping. ctx is the batch's context, to tell a deadline from
// a network failure (the SDK loses that distinction).
func classify(ctx context.Context, err error, now time.Time) provider.Result {
	if err == nil {
		return provider.Result{Kind: provider.Delivered}
	}
	resp := errorutils.HTTPResponse(err)
	if resp == nil {
		return classifyTransport(ctx, err)
	}
	return classifyAnswer(readAnswer(resp, now))
}

// classifyTransport handles errors without an HTTP answer.
func classifyTransport(ctx context.Context, err error) provider.Result {
	if cerr := ctx.Err(); cerr != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		cause := err
		if cerr != nil {
			cause = cerr
		}
		return provider.Result{Kind: provider.Retry, Reason: reasonContext, Err: fmt.Errorf("%w: %w", provider.ErrUnavailable, cause)}
	}
	reason := "transport error"
	switch {
	case errorutils.IsDeadlineExceeded(err):
		reason = "DEADLINE_EXCEEDED"
	case errorutils.IsUnavailable(err):
		reason = "UNAVAILABLE"
	}
	return provider.Result{Kind: provider.Retry, Reason: reason, Err: fmt.Errorf("%w: %v", provider.ErrUnavailable, err)}
}

// readAnswer parses the buffered answer the SDK kept.
func readAnswer(resp *http.Response, now time.Time) answer {
	a := answer{httpStatus: resp.StatusCode, retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), now)}
	var body apiError
	_ = json.Unmarshal(rereadBody(resp), &body) // a non-JSON body leaves the HTTP status to decide
	a.status, a.message = body.Error.Status, body.Error.Message
	for _, d := range body.Error.Details {
		if d.Type == typeFcmError && a.code == "" {
			a.code = d.ErrorCode
		}
		for _, v := range d.FieldViolations {
			a.fields = append(a.fields, v.Field)
		}
	}
	if a.status == "" {
		a.status = statusFromHTTP(resp.StatusCode)
	}
	if a.message == "" {
		a.message = http.StatusText(resp.StatusCode)
	}
	if a.message == "" { // a status net/http has no name for
		a.message = "HTTP " + strconv.Itoa(resp.StatusCode)
	}
	return a
}

// rereadBody returns the body of the SDK's buffered copy of the answer and
// puts it back, so the error stays inspectable after classification.
func rereadBody(resp *http.Response) []byte {
	if resp.Body == nil {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

// classifyAnswer decides on the FcmError code first, then the platform status.
func classifyAnswer(a answer) provider.Result {
	switch a.code {
	case "UNREGISTERED", "SENDER_ID_MISMATCH":
		return a.result(provider.InvalidToken, a.code, provider.ErrInvalidToken)
	case "QUOTA_EXCEEDED":
		return a.result(provider.Retry, a.code, provider.ErrRateLimited)
	case "UNAVAILABLE", "INTERNAL":
		return a.result(provider.Retry, a.code, provider.ErrUnavailable)
	case "THIRD_PARTY_AUTH_ERROR", "APNS_AUTH_ERROR":
		return a.result(provider.CredentialError, a.code, provider.ErrCredentials)
	}
	switch a.status {
	case "INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE":
		if a.status == "INVALID_ARGUMENT" && a.badToken() {
			return a.result(provider.InvalidToken, a.message, provider.ErrInvalidToken)
		}
		return a.result(provider.Permanent, a.message, provider.ErrBadMessage)
	case "UNAUTHENTICATED", "PERMISSION_DENIED":
		// Our access token or the account's rights on the project.
		return a.result(provider.CredentialError, a.status, provider.ErrCredentials)
	case "NOT_FOUND":
		// Without FcmError it is the project that was not found.
		return a.result(provider.CredentialError, a.status, provider.ErrCredentials)
	case "RESOURCE_EXHAUSTED":
		return a.result(provider.Retry, a.status, provider.ErrRateLimited)
	case "UNAVAILABLE", "INTERNAL", "UNKNOWN", "DEADLINE_EXCEEDED", "ABORTED", "CANCELLED":
		return a.result(provider.Retry, a.status, provider.ErrUnavailable)
	}
	if a.httpStatus >= 500 {
		return a.result(provider.Retry, a.status, provider.ErrUnavailable)
	}
	return a.result(provider.Permanent, a.status, provider.ErrBadMessage)
}

func (a answer) result(k provider.Kind, reason string, sentinel error) provider.Result {
	r := provider.Result{Kind: k, Reason: reason,
		Err: fmt.Errorf("%w: fcm answered %d %s: %s", sentinel, a.httpStatus, a.status, a.message)}
	if k == provider.Retry {
		r.RetryAfter = a.retryAfter
	}
	return r
}

// badToken reports an INVALID_ARGUMENT about the registration token itself
// rather than the message. FCM gives it the same status and code as any bad
// field; only its message (or a violation of message.token) tells.
func (a answer) badToken() bool {
	m := strings.ToLower(a.message)
	if strings.Contains(m, "registration token") && (strings.Contains(m, "not a valid") || strings.Contains(m, "invalid")) {
		return true
	}
	for _, f := range a.fields {
		if f == "message.token" {
			return true
		}
	}
	return false
}

// statusFromHTTP is the SDK's own fallback when the body has no status.
func statusFromHTTP(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusConflict:
		return "CONFLICT"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusInternalServerError:
		return "INTERNAL"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	}
	return "UNKNOWN"
}

// parseRetryAfter reads delay-seconds or an HTTP date; zero when absent.
func parseRetryAfter(v string, now time.Time) time.Duration {
	return provider.ParseRetryAfter(v, now)
}
