package consumer

import (
	"math/rand/v2"
	"time"
)

// Backoff returns the delay before delivery attempt+1: base·2^(attempt-1),
// capped at max, with ±20% jitter (uniform in [0.8, 1.2] of that) so a
// burst of failures does not come back as a burst.
func Backoff(attempt int, base, maxDelay time.Duration) time.Duration {
	return backoff(attempt, base, maxDelay, rand.Int64N)
}

// backoff is Backoff with its random source: randN(n) is uniform in [0, n).
func backoff(attempt int, base, maxDelay time.Duration, randN func(n int64) int64) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := base
	for i := 1; i < attempt && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	spread := d / 5 // 20%
	jitter := time.Duration(randN(2*int64(spread)+1)) - spread
	return max(d+jitter, time.Millisecond)
}
