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
type breaker struct {
	mu        sync.Mutex
	threshold int
	min, max  time.Duration
	failures  int
	state     breakerState
	until     time.Time
	cool      time.Duration
	onChange  func(open bool)
}

type breakerState int

const (
	closed breakerState = iota
	open
	halfOpen
)

func newBreaker(threshold int, minCool, maxCool time.Duration, onChange func(open bool)) *breaker {
	return &breaker{threshold: threshold, min: minCool, max: maxCool, cool: minCool, onChange: onChange}
}

// wait returns when a call may go ahead, or ctx's error.
func (b *breaker) wait(ctx context.Context) error {
	for {
		b.mu.Lock()
		var d time.Duration
		switch b.state {
		case closed:
			b.mu.Unlock()
			return nil
		case open:
			if d = time.Until(b.until); d <= 0 {
				b.state = halfOpen // this caller is the probe
				b.mu.Unlock()
				return nil
			}
		case halfOpen:
			d = 50 * time.Millisecond // the probe is out; check back soon
		}
		b.mu.Unlock()
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// success records a call the provider answered.
func (b *breaker) success() {
	b.mu.Lock()
	was := b.state
	b.state, b.failures, b.cool = closed, 0, b.min
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
		b.state, b.until = open, time.Now().Add(b.cool)
	case closed:
		b.failures++
		if b.failures >= b.threshold {
			b.state, b.until, opened = open, time.Now().Add(b.cool), true
		}
	}
	b.mu.Unlock()
	if opened {
		b.onChange(true)
	}
}
