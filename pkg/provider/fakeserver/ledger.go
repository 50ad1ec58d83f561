package fakeserver

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DeadPrefix marks dead tokens by convention (shared by every pushfleet
// fake): a token starting with "dead" is reported invalid even if never
// passed to SetDead, so the sandbox can exercise invalid-token feedback.
const DeadPrefix = "dead"

// Ledger is the bookkeeping behind a fake's Control: the tokens marked
// dead, the deliveries per token, when each push request arrived and the
// latency to apply. A fake embeds it; its methods are safe for concurrent
// use. The zero Ledger is ready.
type Ledger struct {
	mu        sync.Mutex
	dead      map[string]bool
	delivered map[string]int
	arrivals  []time.Time
	latency   time.Duration

	requests   atomic.Int64
	deliveries atomic.Int64
}

// SetDead makes the fake report token as dead from now on.
func (l *Ledger) SetDead(token string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dead == nil {
		l.dead = map[string]bool{}
	}
	l.dead[token] = true
}

// SetLatency delays every answer by d.
func (l *Ledger) SetLatency(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.latency = d
}

// Latency is the delay SetLatency asked for.
func (l *Ledger) Latency() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.latency
}

// Arrived counts a push request and records when it arrived (now, which
// it returns).
func (l *Ledger) Arrived() time.Time {
	l.requests.Add(1)
	now := time.Now()
	l.mu.Lock()
	l.arrivals = append(l.arrivals, now)
	l.mu.Unlock()
	return now
}

// Deliver records a delivery to each of tokens that is alive, unless none
// is: a token is dead when checkDead says it may be (nil: every token) and
// it was passed to SetDead or starts with DeadPrefix. It returns the dead
// ones, in order, and how many were delivered (0 when all are dead).
func (l *Ledger) Deliver(tokens []string, checkDead func(string) bool) (dead []string, delivered int) {
	alive := make([]bool, len(tokens))
	l.mu.Lock()
	for i, t := range tokens {
		if (checkDead == nil || checkDead(t)) && (l.dead[t] || strings.HasPrefix(t, DeadPrefix)) {
			dead = append(dead, t)
			continue
		}
		alive[i] = true
	}
	if len(dead) == len(tokens) {
		l.mu.Unlock()
		return dead, 0
	}
	if l.delivered == nil {
		l.delivered = map[string]int{}
	}
	for i, t := range tokens {
		if alive[i] {
			l.delivered[t]++
		}
	}
	l.mu.Unlock()
	delivered = len(tokens) - len(dead)
	l.deliveries.Add(int64(delivered))
	return dead, delivered
}

// Delivered is how many accepted messages targeted token.
func (l *Ledger) Delivered(token string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.delivered[token]
}

// DeliveredTotal is the number of accepted tokens over all requests.
func (l *Ledger) DeliveredTotal() int64 { return l.deliveries.Load() }

// RequestTimes is when each push request arrived, in order, whatever its
// answer (feedback polls and token requests excluded).
func (l *Ledger) RequestTimes() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.arrivals)
}

// Requests is the number of push requests received.
func (l *Ledger) Requests() int64 { return l.requests.Load() }
