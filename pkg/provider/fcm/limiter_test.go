package fcm

import (
	"testing"
	"time"
)

func TestGateRate(t *testing.T) {
	t0 := time.Unix(1000, 0)
	g := newProjectGate(6000, t0) // 100/s, capacity max(100, 500) = 500
	if w, ok := g.reserve(t0, 500, 0); !ok || w != 0 {
		t.Fatalf("full bucket: wait %v ok %v, want 0 true", w, ok)
	}
	if w, ok := g.reserve(t0, 100, 0); ok || w != time.Second {
		t.Fatalf("empty bucket, no wait allowed: wait %v ok %v, want 1s false", w, ok)
	}
	if w, ok := g.reserve(t0, 100, 2*time.Second); !ok || w != time.Second {
		t.Fatalf("empty bucket, wait allowed: wait %v ok %v, want 1s true", w, ok)
	}
	g.refund(100)
	if w, ok := g.reserve(t0.Add(time.Second), 100, 0); !ok || w != 0 {
		t.Fatalf("after refund and 1s: wait %v ok %v, want 0 true", w, ok)
	}
}

func TestGateHoldAndRecovery(t *testing.T) {
	t0 := time.Unix(1000, 0)
	g := newProjectGate(60*1000, t0) // 1000/s
	g.slowDown(t0, 5*time.Second, true)
	if d := g.held(t0.Add(time.Second)); d != 4*time.Second {
		t.Fatalf("held %v, want 4s", d)
	}
	if w, ok := g.reserve(t0.Add(2*time.Second), 1, time.Hour); ok || w != 3*time.Second {
		t.Fatalf("reserve while held: wait %v ok %v, want 3s false", w, ok)
	}
	g.mu.Lock()
	slowed := g.rate
	g.mu.Unlock()
	if slowed != 500 {
		t.Fatalf("rate after QUOTA_EXCEEDED %v, want halved to 500", slowed)
	}
	// A shorter Retry-After never shortens an existing hold.
	g.slowDown(t0, time.Second, true)
	if d := g.held(t0); d != 5*time.Second {
		t.Fatalf("held %v after a shorter Retry-After, want 5s", d)
	}
	if _, ok := g.reserve(t0.Add(5*time.Second), 1, time.Hour); !ok {
		t.Fatal("reserve after the hold failed")
	}
	g.reserve(t0.Add(5*time.Second+recoveryPeriod), 0, 0)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.rate != g.base {
		t.Fatalf("rate %v a recovery period later, want back to %v", g.rate, g.base)
	}
}

func TestGateFloor(t *testing.T) {
	t0 := time.Unix(1000, 0)
	g := newProjectGate(60, t0) // 1/s: floor is 1/s
	for range 10 {
		g.slowDown(t0, 0, true)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.rate != 1 {
		t.Fatalf("rate %v, want the 1/s floor", g.rate)
	}
}

// After a hold exactly one caller probes; the others wait for its end. An
// answer opens the gate; no answer lets the next caller probe; another
// QUOTA_EXCEEDED meanwhile keeps the probe's answer from opening it.
func TestGateProbe(t *testing.T) {
	t0 := time.Unix(1000, 0)
	g := newProjectGate(6000, t0)
	if st, _, _ := g.enter(t0); st != gateOpen {
		t.Fatalf("fresh gate: %v, want open", st)
	}
	g.slowDown(t0, time.Second, true)
	if st, d, _ := g.enter(t0); st != gateHeld || d != time.Second {
		t.Fatalf("during the hold: %v %v, want held 1s", st, d)
	}
	after := t0.Add(2 * time.Second)
	if st, _, _ := g.enter(after); st != gateProbe {
		t.Fatalf("after the hold: %v, want the probe", st)
	}
	st, _, done := g.enter(after)
	if st != gateProbing {
		t.Fatalf("second caller: %v, want to wait for the probe", st)
	}
	g.endProbe(probeNoAnswer)
	<-done
	if st, _, _ := g.enter(after); st != gateProbe {
		t.Fatalf("after a probe without answer: %v, want another probe", st)
	}
	g.slowDown(t0.Add(-time.Minute), 0, false) // another message's 429, already over
	g.endProbe(probeAnswered)
	if st, _, _ := g.enter(after); st != gateProbe {
		t.Fatalf("after a probe answered while another 429 came: %v, want another probe", st)
	}
	g.endProbe(probeAnswered)
	if st, _, _ := g.enter(after); st != gateOpen {
		t.Fatalf("after an answered probe: %v, want open", st)
	}
}
