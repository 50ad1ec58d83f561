package fcm

import (
	"sync"
	"time"
)

// recoveryPeriod is how long the rate takes to climb from its floor back to
// the configured rate once FCM stops answering QUOTA_EXCEEDED.
const recoveryPeriod = time.Minute

// projectGate paces one FCM project's messages. FCM's quota is per project,
// so every app sending to the project shares its gate. It is a token bucket
// (one token per message) whose rate halves on QUOTA_EXCEEDED and recovers
// linearly, plus a hold: after QUOTA_EXCEEDED nothing is sent to the project
// until Retry-After has passed.
type projectGate struct {
	mu       sync.Mutex
	base     float64 // configured messages per second
	rate     float64 // current messages per second, floor..base
	capacity float64
	tokens   float64
	last     time.Time
	hold     time.Time
}

func newProjectGate(perMinute int, now time.Time) *projectGate {
	g := &projectGate{last: now}
	g.setRate(perMinute)
	g.tokens = g.capacity
	return g
}

// setRate changes the configured rate, keeping the current state.
func (g *projectGate) setRate(perMinute int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.base = float64(perMinute) / 60
	g.rate = g.base
	// One second of traffic, but never less than one full batch.
	g.capacity = max(g.base, MaxBatch)
	g.tokens = min(g.tokens, g.capacity)
}

// floor is the slowest rate QUOTA_EXCEEDED can push the gate to.
func (g *projectGate) floor() float64 { return max(g.base/64, 1) }

// refill must be called with g.mu held.
func (g *projectGate) refill(now time.Time) {
	el := now.Sub(g.last).Seconds()
	if el <= 0 {
		return
	}
	g.last = now
	g.rate = min(g.base, g.rate+g.base*el/recoveryPeriod.Seconds())
	g.tokens = min(g.capacity, g.tokens+el*g.rate)
}

// held returns how long the project is still held (zero: not held).
func (g *projectGate) held(now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return max(g.hold.Sub(now), 0)
}

// reserve takes n tokens if they are available within maxWait and returns
// how long to wait before sending. Otherwise it takes nothing and returns
// how long the caller would have had to wait, with ok false.
func (g *projectGate) reserve(now time.Time, n int, maxWait time.Duration) (wait time.Duration, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if d := g.hold.Sub(now); d > 0 {
		return d, false
	}
	g.refill(now)
	need := float64(n)
	if g.tokens >= need {
		g.tokens -= need
		return 0, true
	}
	wait = time.Duration((need - g.tokens) / g.rate * float64(time.Second))
	if wait > maxWait {
		return wait, false
	}
	g.tokens -= need
	return wait, true
}

// refund returns tokens reserved for messages that were never sent.
func (g *projectGate) refund(n int) {
	g.mu.Lock()
	g.tokens = min(g.capacity, g.tokens+float64(n))
	g.mu.Unlock()
}

// slowDown reacts to QUOTA_EXCEEDED: hold the project for retryAfter,
// halve the rate and start again from an empty bucket.
func (g *projectGate) slowDown(now time.Time, retryAfter time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.refill(now)
	if until := now.Add(retryAfter); until.After(g.hold) {
		g.hold = until
	}
	g.rate = max(g.rate/2, g.floor())
	g.tokens = min(g.tokens, 0)
}
