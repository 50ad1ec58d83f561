package fakeserver

import (
	"context"
	"time"
)

// Delay waits d, the latency a fake's SetLatency asked for, and reports
// whether all of it passed: false when ctx ends (the client gave up) or stop
// is closed (the fake is closing) first. A nil stop never closes.
func Delay(ctx context.Context, d time.Duration, stop <-chan struct{}) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-stop:
	}
	return false
}
