package metrics

import (
	"maps"
	"sync"
	"sync/atomic"

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
//
// Every metric update of every message looks a label up, while the set
// changes at most max times (and on SetKnownApps): readers load an
// immutable snapshot without a lock; writers, serialised by mu, replace it.
type appLabels struct {
	mu    sync.Mutex // held by writers only
	state atomic.Pointer[appState]
	max   int
}

// appState is one immutable snapshot of the app labels.
type appState struct {
	known map[string]bool // nil: no list, admit up to max
	seen  map[string]bool
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
	if label, ok := a.lookup(a.state.Load(), app); ok {
		return label
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// Decided meanwhile (another caller admitted it, the bound was reached
	// or a known list was set)?
	s := a.state.Load()
	if label, ok := a.lookup(s, app); ok {
		return label
	}
	next := &appState{seen: make(map[string]bool, len(s.seenOrNil())+1)}
	if s != nil {
		next.known = s.known
		maps.Copy(next.seen, s.seen)
	}
	next.seen[app] = true
	a.state.Store(next)
	return app
}

func (s *appState) seenOrNil() map[string]bool {
	if s == nil {
		return nil
	}
	return s.seen
}

// lookup returns app's label in snapshot s (nil: nothing set yet) when it
// is decided without admitting a new name.
func (a *appLabels) lookup(s *appState, app string) (string, bool) {
	var known, seen map[string]bool
	if s != nil {
		known, seen = s.known, s.seen
	}
	switch {
	case known != nil:
		if known[app] {
			return app, true
		}
		return AppOther, true
	case seen[app]:
		return app, true
	case len(seen) >= a.max:
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
	next := &appState{known: known}
	if s := a.state.Load(); s != nil {
		next.seen = s.seen
	}
	a.state.Store(next)
}
