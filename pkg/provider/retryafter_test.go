package provider_test

import (
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
