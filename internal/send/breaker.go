package send

import (
	"context"
	"sync"
	"time"
)

// breaker stops a sender from calling a provider that is down. After
// threshold consecutive jobs fail as unavailable it opens: handlers wait
// (holding their messages, which stay in progress) instead of burning every
// message's retry budget on a dead provider. After the cool-down one probe
// job goes through; its success closes the breaker, its failure reopens it
// for twice as long (up to max).
//
// Every call that wait lets through must end with its done func, whatever
// happens (deferred, so a panic releases it too). A probe that never
// reached the provider (its job expired while it waited, its tokens were
// held back, its context ended, it panicked) ends with noAnswer: the
// half-open slot is released and the next caller becomes the probe at once.
type breaker struct {
	mu        sync.Mutex
	threshold int
	min, max  time.Duration
	failures  int
	state     breakerState
	until     time.Time
	cool      time.Duration
	onChange  func(open bool)
	// changed is closed (and replaced) whenever the state changes, so
	// waiters wake up instead of polling.
	changed chan struct{}
}

type breakerState int

const (
	closed breakerState = iota
	open
	halfOpen
)

// outcome is what a call let through by wait found.
type outcome int

const (
	// noAnswer: the call did not reach the provider, or the answer says
	// nothing about its health.
	noAnswer outcome = iota
	// answered: the provider answered.
	answered
	// unreachable: the provider could not be reached or was overloaded.
	unreachable
)

func newBreaker(threshold int, minCool, maxCool time.Duration, onChange func(open bool)) *breaker {
	return &breaker{threshold: threshold, min: minCool, max: maxCool, cool: minCool, onChange: onChange,
		changed: make(chan struct{})}
}

// wait returns when a call may go ahead, with the func that records how it
// ended; or ctx's error. done must be called exactly once (later calls are
// ignored), also when the call never reached the provider.
func (b *breaker) wait(ctx context.Context) (done func(outcome), err error) {
	for {
		b.mu.Lock()
		var t *time.Timer
		switch b.state {
		case closed:
			b.mu.Unlock()
			return b.doneFunc(false), nil
		case open:
			d := time.Until(b.until)
			if d <= 0 {
				b.setLocked(halfOpen) // this caller is the probe
				b.mu.Unlock()
				return b.doneFunc(true), nil
			}
			t = time.NewTimer(d)
		case halfOpen:
			// The probe is out: wait for its end.
		}
		changed := b.changed
		b.mu.Unlock()
		var timer <-chan time.Time
		if t != nil {
			timer = t.C
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-changed:
		case <-timer:
		}
		if t != nil {
			t.Stop()
		}
		if err != nil {
			return nil, err
		}
	}
}

// doneFunc is the done of one call; probe says whether it is the probe.
func (b *breaker) doneFunc(probe bool) func(outcome) {
	var once sync.Once
	return func(o outcome) {
		once.Do(func() { b.finish(probe, o) })
	}
}

// finish records how a call ended.
func (b *breaker) finish(probe bool, o outcome) {
	switch o {
	case answered:
		b.success()
	case unreachable:
		b.failure()
	default:
		if !probe {
			return
		}
		// The probe learnt nothing: let the next caller probe, now.
		b.mu.Lock()
		if b.state == halfOpen {
			b.until = time.Now()
			b.setLocked(open)
		}
		b.mu.Unlock()
	}
}

// setLocked changes the state and wakes the waiters; b.mu must be held.
func (b *breaker) setLocked(s breakerState) {
	b.state = s
	close(b.changed)
	b.changed = make(chan struct{})
}

// success records a call the provider answered.
func (b *breaker) success() {
	b.mu.Lock()
	was := b.state
	b.failures, b.cool = 0, b.min
	if was != closed {
		b.setLocked(closed)
	}
	b.mu.Unlock()
	if was != closed {
		b.onChange(false)
	}
}

// failure records a call that found the provider unavailable.
func (b *breaker) failure() {
	b.mu.Lock()
	opened := false
	switch b.state {
	case halfOpen:
		b.cool = min(2*b.cool, b.max)
		b.until = time.Now().Add(b.cool)
		b.setLocked(open)
	case closed:
		b.failures++
		if b.failures >= b.threshold {
			b.until, opened = time.Now().Add(b.cool), true
			b.setLocked(open)
		}
	}
	b.mu.Unlock()
	if opened {
		b.onChange(true)
	}
}
