package tokens

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// DeviceCount is the number of devices of one app and platform in one state.
type DeviceCount struct {
	App      string          `json:"app"`
	Platform events.Platform `json:"platform"`
	State    State           `json:"state"`
	Devices  int             `json:"devices"`
}

// Stats are device counts, sorted by app, platform and state.
type Stats []DeviceCount

// Total is the number of devices counted.
func (s Stats) Total() int {
	n := 0
	for _, c := range s {
		n += c.Devices
	}
	return n
}

// countKey groups device counts.
type countKey struct {
	app      string
	platform events.Platform
	state    State
}

// counts tallies records by app, platform and state.
type counts map[countKey]int

func (c counts) add(k countKey, n int) {
	if _, ok := c[k]; !ok && n > 0 {
		k.app = strings.Clone(k.app) // keys are slices of record keys: keep only the app
	}
	if c[k] += n; c[k] <= 0 {
		delete(c, k)
	}
}

// stats returns the counts of app ("" for every app), sorted.
func (c counts) stats(app string) Stats {
	out := Stats{}
	for k, n := range c {
		if app == "" || k.app == app {
			out = append(out, DeviceCount{App: k.app, Platform: k.platform, State: k.state, Devices: n})
		}
	}
	slices.SortFunc(out, func(a, b DeviceCount) int {
		return cmp.Or(cmp.Compare(a.App, b.App), cmp.Compare(a.Platform, b.Platform), cmp.Compare(a.State, b.State))
	})
	return out
}

// recordState reads only the state of an encoded record.
func recordState(b []byte) (State, bool) {
	var r struct {
		State State `json:"state"`
	}
	if err := json.Unmarshal(b, &r); err != nil || r.State == "" {
		return "", false
	}
	return r.State, true
}

// Stats counts the devices of app ("" for every app) by platform and state.
// It reads every record once, O(devices): cache the answer, or ask a
// running Cache, which keeps the counts current for free.
func (r *Devices) Stats(ctx context.Context, app string) (Stats, error) {
	if app != "" && !events.ValidApp(app) {
		return nil, invalidDevice("app", "must be 1-64 characters of A-Z a-z 0-9 _ -")
	}
	c := counts{}
	err := r.scan.scan(ctx, appRecordsFilter(app), 0, func(key string, _ uint64, value []byte) error {
		a, p, ok := splitRecordKey(key)
		if !ok {
			return nil
		}
		if st, ok := recordState(value); ok {
			c.add(countKey{a, p, st}, 1)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c.stats(app), nil
}
