package metrics

import (
	"sync"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// AppOther is the app label of every app past the bound: unknown app names
// (a typo, an attacker's 15,000 names) must never mint new series. Names
// that are not app names (events.ValidApp: dots, wildcards, invalid UTF-8,
// over 64 bytes) are always counted under it.
const AppOther = "_other"

// AppNone is the app label when the app is unknown (a message that did not
// decode, say).
const AppNone = "_"

// DefaultMaxApps bounds the distinct app label values one process emits when
// no known-app list is set.
const DefaultMaxApps = 200

// appLabels maps app names to bounded label values: a known app is its own
// label; with a known list set, anything else is AppOther; without one, the
// first max distinct names get their own label and the rest AppOther.
// (An app actually named "_" or "_other" shares its label with those.)
type appLabels struct {
	mu    sync.RWMutex
	known map[string]bool // nil: no list, admit up to max
	seen  map[string]bool
	max   int
}

// App returns the bounded label value for app. Use it for every app label.
func (f *Fleet) App(app string) string {
	switch {
	case app == "":
		return AppNone
	case !events.ValidApp(app):
		return AppOther
	}
	a := &f.apps
	a.mu.RLock()
	label, ok := a.lookup(app)
	a.mu.RUnlock()
	if ok {
		return label
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// Decided meanwhile (another caller admitted it, the bound was reached
	// or a known list was set)?
	if label, ok := a.lookup(app); ok {
		return label
	}
	a.seen[app] = true
	return app
}

// lookup returns app's label when it is decided without admitting a new
// name. The caller holds a.mu.
func (a *appLabels) lookup(app string) (string, bool) {
	switch {
	case a.known != nil:
		if a.known[app] {
			return app, true
		}
		return AppOther, true
	case a.seen[app]:
		return app, true
	case len(a.seen) >= a.max:
		return AppOther, true
	}
	return "", false
}

// SetKnownApps sets the apps that get their own label (from the apps file or
// --apps); every other name is counted under AppOther. A list without any
// name (nil, empty, or only empty strings) lifts the list.
func (f *Fleet) SetKnownApps(apps []string) {
	known := make(map[string]bool, len(apps))
	for _, app := range apps {
		if app != "" {
			known[app] = true
		}
	}
	if len(known) == 0 {
		known = nil
	}
	a := &f.apps
	a.mu.Lock()
	defer a.mu.Unlock()
	a.known = known
}
