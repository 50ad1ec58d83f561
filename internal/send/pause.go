package send

import (
	"sync"
	"time"
)

// pauses remembers apps whose credentials the provider rejected, so their
// jobs wait instead of hammering the provider (and burning retries) until an
// operator fixes the credentials.
type pauses struct {
	mu       sync.Mutex
	min, max time.Duration
	apps     map[string]pause
}

type pause struct {
	until time.Time
	next  time.Duration
}

func newPauses(minD, maxD time.Duration) *pauses {
	return &pauses{min: minD, max: maxD, apps: map[string]pause{}}
}

// remaining is how long app stays paused (0: not paused).
func (p *pauses) remaining(app string, now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ps, ok := p.apps[app]; ok && now.Before(ps.until) {
		return ps.until.Sub(now)
	}
	return 0
}

// trip pauses app, doubling the pause while rejections continue.
func (p *pauses) trip(app string, now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	ps := p.apps[app]
	d := ps.next
	if d == 0 {
		d = p.min
	}
	p.apps[app] = pause{until: now.Add(d), next: min(2*d, p.max)}
	return d
}

// clear ends app's pause after a success; it reports whether one was set.
func (p *pauses) clear(app string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.apps[app]
	delete(p.apps, app)
	return ok
}
