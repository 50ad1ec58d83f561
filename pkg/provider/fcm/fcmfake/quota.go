package fcmfake

import "time"

// quotaBucket is a project's message quota: capacity messages, refilled
// continuously over window. A nil bucket never runs out.
type quotaBucket struct {
	capacity float64
	perSec   float64
	tokens   float64
	last     time.Time
}

func newQuotaBucket(n int, window time.Duration) *quotaBucket {
	if n <= 0 || window <= 0 {
		return nil
	}
	return &quotaBucket{capacity: float64(n), perSec: float64(n) / window.Seconds(), tokens: float64(n), last: time.Now()}
}

// take spends one message of quota, or says how long until one is back.
func (b *quotaBucket) take(now time.Time) (time.Duration, bool) {
	if b == nil {
		return 0, true
	}
	b.tokens = min(b.capacity, b.tokens+now.Sub(b.last).Seconds()*b.perSec)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	wait := time.Duration((1 - b.tokens) / b.perSec * float64(time.Second))
	return max(wait, time.Second), false
}
