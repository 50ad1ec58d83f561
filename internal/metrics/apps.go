package metrics

import "sync"

// AppOther is the app label of every app past the bound: unknown app names
// (a typo, an attacker's 15,000 names) must never mint new series.
const AppOther = "_other"

// DefaultMaxApps bounds the distinct app label values one process emits when
// no known-app list is set.
const DefaultMaxApps = 200

// appLabels maps app names to bounded label values: a known app is its own
// label; with a known list set, anything else is AppOther; without one, the
// first max distinct names get their own label and the rest AppOther.
type appLabels struct {
	mu    sync.RWMutex
	known map[string]bool // nil: no list, admit up to max
	seen  map[string]bool
	max   int
}

// App returns the bounded label value for app. Use it for every app label.
func (f *Fleet) App(app string) string {
	a := &f.apps
	a.mu.RLock()
	known, ok := a.known[app], a.known != nil
	seen := a.seen[app]
	full := len(a.seen) >= a.max
	a.mu.RUnlock()
	switch {
	case app == "":
		return "_"
	case ok:
		if known {
			return app
		}
		return AppOther
	case seen:
		return app
	case full:
		return AppOther
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.seen) >= a.max {
		return AppOther
	}
	a.seen[app] = true
	return app
}

// SetKnownApps sets the apps that get their own label (from the apps file or
// --apps); every other name is counted under AppOther. nil lifts the list.
func (f *Fleet) SetKnownApps(apps []string) {
	a := &f.apps
	a.mu.Lock()
	defer a.mu.Unlock()
	if apps == nil {
		a.known = nil
		return
	}
	a.known = make(map[string]bool, len(apps))
	for _, app := range apps {
		a.known[app] = true
	}
}
