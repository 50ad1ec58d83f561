package fakeserver

import (
	"context"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	closed := make(chan struct{})
	close(closed)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		d    time.Duration
		stop <-chan struct{}
		want bool
	}{
		{"no latency", canceled, 0, closed, true},
		{"latency passes", context.Background(), time.Millisecond, nil, true},
		{"client gives up", canceled, time.Hour, nil, false},
		{"fake closes", context.Background(), time.Hour, closed, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Delay(tc.ctx, tc.d, tc.stop); got != tc.want {
				t.Fatalf("Delay = %v, want %v", got, tc.want)
			}
		})
	}
}
