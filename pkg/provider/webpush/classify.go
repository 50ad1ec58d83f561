package webpush

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

// maxErrorBody is how much of an error answer's body is kept for Err.
const maxErrorBody = 512

// classify turns a push service's answer (or the failure to get one) into
// the token's Result. It closes resp's body. The table, with sources, is
// in the package doc.
func classify(token string, resp *http.Response, err error, now time.Time) provider.Result {
	r := provider.Result{Token: token}
	if err != nil {
		// The request may or may not have reached the service.
		r.AnsweredAt = now
		r.Kind, r.Reason = provider.Retry, "transport"
		if errors.Is(err, context.DeadlineExceeded) {
			r.Reason = "timeout"
		} else if errors.Is(err, context.Canceled) {
			r.Reason = "canceled"
		}
		r.Err = fmt.Errorf("%w: %w", provider.ErrUnavailable, err)
		return r
	}
	defer resp.Body.Close()
	r.AnsweredAt = now
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		r.Kind, r.Reason = provider.Delivered, reasonOf(code)
		return r
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	detail := fmt.Sprintf("HTTP %d", code)
	if b := strings.TrimSpace(string(body)); b != "" {
		detail += ": " + b
	}
	r.Reason = reasonOf(code)
	switch {
	case code == http.StatusNotFound || code == http.StatusGone:
		r.Kind, r.Err = provider.InvalidToken, fmt.Errorf("%w: subscription gone: %s", provider.ErrInvalidToken, detail)
	case code == http.StatusRequestEntityTooLarge:
		r.Kind, r.Err = provider.Permanent, fmt.Errorf("%w: %s", provider.ErrPayloadTooLarge, detail)
	case code == http.StatusTooManyRequests:
		r.Kind, r.Err = provider.Retry, fmt.Errorf("%w: %s", provider.ErrRateLimited, detail)
		r.RetryAfter = provider.ParseRetryAfter(resp.Header.Get("Retry-After"), now)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		r.Kind, r.Err = provider.CredentialError, fmt.Errorf("%w: VAPID: %s", provider.ErrCredentials, detail)
	case code >= 500:
		r.Kind, r.Err = provider.Retry, fmt.Errorf("%w: %s", provider.ErrUnavailable, detail)
		r.RetryAfter = provider.ParseRetryAfter(resp.Header.Get("Retry-After"), now)
	default: // 3xx (not followed), 400 and the other 4xx: the request as built cannot succeed
		r.Kind, r.Err = provider.Permanent, fmt.Errorf("%w: %s", provider.ErrBadMessage, detail)
	}
	return r
}

// reasonOf is the status as a reason word: "Gone", "TooManyRequests".
func reasonOf(code int) string {
	if t := http.StatusText(code); t != "" {
		return strings.NewReplacer(" ", "", "-", "").Replace(t)
	}
	return fmt.Sprintf("HTTP%d", code)
}
