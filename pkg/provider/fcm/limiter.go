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
// until Retry-After has passed, and then one probe message goes first; the
// others wait for its answer instead of all going at once.
type projectGate struct {
	mu       sync.Mutex
	base     float64 // configured messages per second
	rate     float64 // current messages per second, floor..base
	capacity float64
	tokens   float64
	last     time.Time
	hold     time.Time
	// needProbe: the project was held and no answer since says its quota
	// is back. probing: the probe is out; probeDone closes when it ends.
	needProbe bool
	probing   bool
	probeDone chan struct{}
	// holds counts slowDowns; probeHolds is its value when the probe went
	// out, so a QUOTA_EXCEEDED of another message meanwhile still counts.
	holds, probeHolds int
}

// gateState is what enter tells a batch.
type gateState int

const (
	gateOpen    gateState = iota // send (within the rate)
	gateHeld                     // held after QUOTA_EXCEEDED: send nothing
	gateProbe                    // the caller sends the probe, alone
	gateProbing                  // the probe is out: wait for it to end
)

// probeResult is what the probe learnt.
type probeResult int

const (
	probeNoAnswer probeResult = iota // not sent, or an answer about something else
	probeAnswered                    // FCM took or refused the message itself
	probeLimited                     // QUOTA_EXCEEDED again (slowDown holds the project)
)

// enter says whether a batch may go now: gateHeld with how long the hold
// lasts, gateProbing with a channel closed when the probe ends, gateProbe
// when the caller is the probe (it must call endProbe), or gateOpen.
func (g *projectGate) enter(now time.Time) (gateState, time.Duration, <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.hold.After(now):
		return gateHeld, g.hold.Sub(now), nil
	case !g.needProbe:
		return gateOpen, 0, nil
	case g.probing:
		return gateProbing, 0, g.probeDone
	}
	g.probing, g.probeDone, g.probeHolds = true, make(chan struct{}), g.holds
	return gateProbe, 0, nil
}

// endProbe records the probe's outcome and wakes the batches waiting for
// it: an answer opens the project; otherwise the next batch probes again
// (after the new hold, when FCM answered QUOTA_EXCEEDED).
func (g *projectGate) endProbe(r probeResult) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.probing {
		return
	}
	g.probing = false
	close(g.probeDone)
	if r == probeAnswered && g.holds == g.probeHolds {
		g.needProbe = false
	}
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
// halve the rate (with halve: once per batch, not once per message answered
// 429 at the same time) and start again from an empty bucket; the first
// message after the hold is a probe.
func (g *projectGate) slowDown(now time.Time, retryAfter time.Duration, halve bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.refill(now)
	if until := now.Add(retryAfter); until.After(g.hold) {
		g.hold = until
	}
	g.needProbe = true
	g.holds++
	if halve {
		g.rate = max(g.rate/2, g.floor())
	}
	g.tokens = min(g.tokens, 0)
}
