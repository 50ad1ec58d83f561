package consumer

import (
	"testing"
	"time"
)

// The jitter spans the documented ±20%, no less and no more.
func TestBackoffJitterBounds(t *testing.T) {
	lowest := func(int64) int64 { return 0 }
	highest := func(n int64) int64 { return n - 1 }
	tests := []struct {
		name    string
		attempt int
		randN   func(int64) int64
		want    time.Duration
	}{
		{"first attempt, lowest", 1, lowest, 800 * time.Millisecond},
		{"first attempt, highest", 1, highest, 1200 * time.Millisecond},
		{"third attempt, lowest", 3, lowest, 3200 * time.Millisecond},
		{"third attempt, highest", 3, highest, 4800 * time.Millisecond},
		{"capped, lowest", 30, lowest, 48 * time.Second},
		{"capped, highest", 30, highest, 72 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := backoff(tc.attempt, time.Second, time.Minute, tc.randN); got != tc.want {
				t.Fatalf("backoff = %v, want %v", got, tc.want)
			}
		})
	}
}
