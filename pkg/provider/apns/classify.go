package apns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/sideshow/apns2"
)

// APNs reasons the classification singles out.
const (
	reasonBadDeviceToken              = "BadDeviceToken"
	reasonDeviceTokenNotForTopic      = "DeviceTokenNotForTopic"
	reasonIdleTimeout                 = "IdleTimeout"
	reasonExpiredProviderToken        = "ExpiredProviderToken"
	reasonTooManyProviderTokenUpdates = "TooManyProviderTokenUpdates"
)

// classify maps one apns2 answer onto a provider.Result, following
// docs/providers.md §0:
//
//	200                                   Delivered
//	410 (Unregistered, ExpiredToken, …)   InvalidToken, ProviderAt = timestamp
//	400 BadDeviceToken                    InvalidToken
//	400 DeviceTokenNotForTopic            InvalidToken
//	400 IdleTimeout                       Retry (ErrUnavailable)
//	400 other, 404, 405, other 4xx        Permanent (ErrBadMessage)
//	413                                   Permanent (ErrPayloadTooLarge)
//	403 any reason                        CredentialError (ErrCredentials)
//	429 TooManyProviderTokenUpdates       CredentialError (ErrCredentials)
//	429 other                             Retry (ErrRateLimited), RetryAfter
//	5xx, other statuses                   Retry (ErrUnavailable), RetryAfter
//	err != nil (transport, GOAWAY, reset,
//	  ctx end, unreadable body)           Retry (ErrUnavailable)
//
// 403 ExpiredProviderToken is classified CredentialError here; the sender
// turns it into Retry when it could renew the JWT (see renewOnExpired).
// err != nil is never trusted for a status (apns2 loses it when the body is
// not JSON) except that a captured 200 is Delivered: APNs accepted it.
func classify(token string, resp *apns2.Response, err error, c *capture) provider.Result {
	r := provider.Result{Token: token, RetryAfter: parseRetryAfter(c.retryAfter, time.Now())}
	if err != nil {
		return transportFailure(r, err, c)
	}
	status, reason := resp.StatusCode, resp.Reason
	r.Reason = reason
	if r.Reason == "" && status != http.StatusOK {
		r.Reason = "HTTP " + strconv.Itoa(status)
	}
	kind, sentinel := kindOf(status, reason)
	r.Kind = kind
	if sentinel != nil {
		r.Err = fmt.Errorf("%w: APNs answered %d %s", sentinel, status, reason)
	}
	if status == http.StatusGone {
		r.ProviderAt = goneAt(resp, c)
	}
	return r
}

// kindOf is the table of classify for answers that were read in full.
func kindOf(status int, reason string) (provider.Kind, error) {
	switch {
	case status == http.StatusOK:
		return provider.Delivered, nil
	case status == http.StatusGone:
		return provider.InvalidToken, provider.ErrInvalidToken
	case status == http.StatusBadRequest && (reason == reasonBadDeviceToken || reason == reasonDeviceTokenNotForTopic):
		return provider.InvalidToken, provider.ErrInvalidToken
	case status == http.StatusBadRequest && reason == reasonIdleTimeout:
		return provider.Retry, provider.ErrUnavailable
	case status == http.StatusRequestEntityTooLarge:
		return provider.Permanent, provider.ErrPayloadTooLarge
	case status == http.StatusForbidden:
		return provider.CredentialError, provider.ErrCredentials
	case status == http.StatusTooManyRequests && reason == reasonTooManyProviderTokenUpdates:
		return provider.CredentialError, provider.ErrCredentials
	case status == http.StatusTooManyRequests:
		return provider.Retry, provider.ErrRateLimited
	case status >= 400 && status < 500:
		return provider.Permanent, provider.ErrBadMessage
	}
	return provider.Retry, provider.ErrUnavailable
}

// transportFailure is the Retry result of a request without a usable answer.
func transportFailure(r provider.Result, err error, c *capture) provider.Result {
	if c.status == http.StatusOK {
		r.Kind = provider.Delivered
		return r
	}
	r.Kind = provider.Retry
	sentinel := provider.ErrUnavailable
	if c.status == http.StatusTooManyRequests {
		sentinel = provider.ErrRateLimited
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		r.Reason = "timeout"
	case errors.Is(err, context.Canceled):
		r.Reason = "canceled"
	case c.status != 0:
		r.Reason = "HTTP " + strconv.Itoa(c.status) + " with an unreadable body"
	default:
		r.Reason = "transport error"
	}
	r.Err = fmt.Errorf("%w: %s: %w", sentinel, r.Reason, err)
	return r
}

// goneAt is the 410 timestamp (milliseconds since the epoch), read from the
// raw body to keep the milliseconds apns2 drops.
func goneAt(resp *apns2.Response, c *capture) time.Time {
	var body struct {
		Timestamp json.Number `json:"timestamp"`
	}
	if json.Unmarshal(c.body, &body) == nil {
		if ms, err := body.Timestamp.Int64(); err == nil && ms > 0 {
			return time.UnixMilli(ms).UTC()
		}
	}
	if !resp.Timestamp.IsZero() {
		return resp.Timestamp.UTC()
	}
	return time.Time{}
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	return provider.ParseRetryAfter(v, now)
}
