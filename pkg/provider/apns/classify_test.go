package apns

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/sideshow/apns2"
)

// TestClassifyTransport covers answers apns2 could not read.
func TestClassifyTransport(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		capt     capture
		kind     provider.Kind
		sentinel error
		reason   string
	}{
		{"200 with an unreadable body was accepted", errors.New("invalid character"), capture{status: 200}, provider.Delivered, nil, ""},
		{"502 HTML from a proxy", errors.New("invalid character '<'"), capture{status: 502, body: []byte("<html>")}, provider.Retry, provider.ErrUnavailable, "HTTP 502 with an unreadable body"},
		{"429 unreadable keeps Retry-After", errors.New("eof"), capture{status: 429, retryAfter: "30"}, provider.Retry, provider.ErrRateLimited, "HTTP 429 with an unreadable body"},
		{"connection reset", io.ErrUnexpectedEOF, capture{}, provider.Retry, provider.ErrUnavailable, "transport error"},
		{"deadline", context.DeadlineExceeded, capture{}, provider.Retry, provider.ErrUnavailable, "timeout"},
		{"cancel", context.Canceled, capture{}, provider.Retry, provider.ErrUnavailable, "canceled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := classify("t", &apns2.Response{}, tc.err, &tc.capt)
			if r.Kind != tc.kind || r.Reason != tc.reason {
				t.Fatalf("got %v %q, want %v %q", r.Kind, r.Reason, tc.kind, tc.reason)
			}
			if tc.sentinel != nil && !errors.Is(r.Err, tc.sentinel) {
				t.Fatalf("err %v does not wrap %v", r.Err, tc.sentinel)
			}
			if tc.capt.retryAfter == "30" && r.RetryAfter != 30*time.Second {
				t.Fatalf("RetryAfter %v", r.RetryAfter)
			}
		})
	}
}

func TestClassifyUnknownStatuses(t *testing.T) {
	for status, want := range map[int]provider.Kind{
		302: provider.Retry, 401: provider.Permanent, 418: provider.Permanent, 502: provider.Retry, 504: provider.Retry,
	} {
		r := classify("t", &apns2.Response{StatusCode: status}, nil, &capture{status: status})
		if r.Kind != want || r.Reason == "" {
			t.Errorf("status %d: %v %q, want %v with a reason", status, r.Kind, r.Reason, want)
		}
	}
}

func TestGoneTimestamp(t *testing.T) {
	resp := &apns2.Response{StatusCode: 410, Reason: "Unregistered"}
	r := classify("t", resp, nil, &capture{status: 410, body: []byte(`{"reason":"Unregistered","timestamp":1458114061260}`)})
	if want := time.UnixMilli(1458114061260); !r.ProviderAt.Equal(want) {
		t.Fatalf("ProviderAt %v, want %v (milliseconds kept)", r.ProviderAt, want)
	}
	r = classify("t", resp, nil, &capture{status: 410, body: []byte(`{"reason":"Unregistered"}`)})
	if !r.ProviderAt.IsZero() {
		t.Fatalf("ProviderAt %v without a timestamp", r.ProviderAt)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "7": 7 * time.Second, "-3": 0, "soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}
