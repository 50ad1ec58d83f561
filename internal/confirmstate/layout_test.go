package confirmstate_test

import (
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/internal/confirmstate"
)

// The keys are what stored state is found by: a change here orphans every
// watched intent of a running fleet, so they are pinned (the hashes are
// the first 16 bytes of SHA-256, as `sha256sum` prints them).
func TestKeys(t *testing.T) {
	const watch = "shop.0bafe22156d2698c143b86040446d366" // order-1
	for _, tc := range []struct{ name, got, want string }{
		{"watch", confirmstate.WatchKey("shop", "order-1"), watch},
		// An FCM-like token with ':' and '/', which KV keys do not allow.
		{"token", confirmstate.TokenKey("shop", "order-1", "fcm:tok/1"), watch + ".453a7919540e3edb687ade28a7d940f7"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s key = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestTickAt(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := confirmstate.Watch{Start: start, Deadline: start.Add(time.Hour), Every: 20 * time.Minute, Resends: 2}
	for _, tc := range []struct {
		n    int
		want time.Time
	}{
		{1, start.Add(20 * time.Minute)},
		{2, start.Add(40 * time.Minute)},
		{3, start.Add(time.Hour)}, // the end of the window
	} {
		if got := w.TickAt(tc.n); !got.Equal(tc.want) {
			t.Errorf("TickAt(%d) = %s, want %s", tc.n, got, tc.want)
		}
	}
}
