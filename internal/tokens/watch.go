package tokens

import (
	"errors"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// errWatchClosed: the KV watcher ended on its own (connection closed).
var errWatchClosed = errors.New("kv watcher closed")

// stopWatcher stops w and drains what it still delivers: the watcher's
// callback blocks on a full channel, and only once it is unblocked does the
// subscription finish and close the channel.
func stopWatcher(w jetstream.KeyWatcher) {
	_ = w.Stop()
	go func() {
		for range w.Updates() {
		}
	}()
}

// splitRecordKey returns the app and platform of a record key
// (<app>.<platform>.<token key>).
func splitRecordKey(key string) (string, events.Platform, bool) {
	app, rest, ok := strings.Cut(key, ".")
	if !ok {
		return "", "", false
	}
	p, tk, ok := strings.Cut(rest, ".")
	if !ok || tk == "" || strings.Contains(tk, ".") || !events.Platform(p).Valid() {
		return "", "", false
	}
	return app, events.Platform(p), true
}

// entryTarget returns the device an index entry lists
// (<app>.<kind>.<label>.<platform>.<token key>, value: the token).
func entryTarget(key string, value []byte) (events.Target, bool) {
	i := strings.LastIndexByte(key, '.')
	if i < 0 {
		return events.Target{}, false
	}
	j := strings.LastIndexByte(key[:i], '.')
	p := events.Platform(key[j+1 : i])
	if !p.Valid() || len(value) == 0 {
		return events.Target{}, false
	}
	return events.Target{Platform: p, Token: string(value)}, true
}
