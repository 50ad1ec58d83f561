package consumer

import (
	"math/rand/v2"
	"time"
)

// Backoff returns the delay before delivery attempt+1: base·2^(attempt-1),
// capped at max, with ±20% jitter so a burst of failures does not come back
// as a burst.
func Backoff(attempt int, base, maxDelay time.Duration) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := base
	for i := 1; i < attempt && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	jitter := time.Duration(rand.Int64N(int64(d)/5+1)) - d/10
	return max(d+jitter, time.Millisecond)
}
