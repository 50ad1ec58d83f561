package provider_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{"9223372037", provider.MaxRetryAfter},  // overflows time.Duration
		{"18446744074", provider.MaxRetryAfter}, // overflows int64
		{"9999999999999", provider.MaxRetryAfter}, // years
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{now.Add(72 * time.Hour).Format(http.TimeFormat), provider.MaxRetryAfter},
	}
	for _, tc := range tests {
		if got := provider.ParseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestTTL(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	const limit = 28 * 24 * time.Hour
	tests := []struct {
		name   string
		expiry time.Time
		want   time.Duration
	}{
		{"past", now.Add(-time.Minute), 0},
		{"now", now, 0},
		{"soon", now.Add(90 * time.Second), 90 * time.Second},
		{"at the limit", now.Add(limit), limit},
		{"past the limit", now.Add(limit + time.Second), limit},
		{"2262 overflows a Duration", time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC), limit},
		{"year 9999", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), limit},
		{"year 1", time.Time{}, 0},
	}
	for _, tc := range tests {
		if got := provider.TTL(tc.expiry, now, limit); got != tc.want {
			t.Errorf("%s: TTL = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestResultSent(t *testing.T) {
	tests := []struct {
		name string
		r    provider.Result
		want bool
	}{
		{"delivered", provider.Result{Kind: provider.Delivered}, true},
		{"answered 429", provider.Result{Kind: provider.Retry, Err: provider.ErrRateLimited}, true},
		{"held back", provider.Result{Kind: provider.Retry, Err: fmt.Errorf("%w: %w", provider.ErrRateLimited, provider.ErrNotSent)}, false},
		{"expired", provider.ExpiredResult("t", time.Now()), false},
		{"no kind", provider.Result{}, false},
	}
	for _, tc := range tests {
		if got := tc.r.Sent(); got != tc.want {
			t.Errorf("%s: Sent = %v, want %v", tc.name, got, tc.want)
		}
	}
	if r := provider.ExpiredResult("t", time.Now()); r.Kind != provider.Expired || !errors.Is(r.Err, provider.ErrExpired) || r.Kind.String() != "expired" {
		t.Fatalf("ExpiredResult = %+v", r)
	}
}
