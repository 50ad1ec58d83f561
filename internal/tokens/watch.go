package tokens

import (
	"context"
	"errors"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// errWatchClosed: the KV watcher ended on its own (connection closed).
var errWatchClosed = errors.New("kv watcher closed")

// errStop ends a walk early; walk's callers turn it into success.
var errStop = errors.New("stop walking")

// walk streams the entries matching filter that exist now, in revision
// order, to fn, skipping deletions. It holds one entry at a time (plus the
// watcher's small buffer), so it suits audiences of any size. It ends when
// the snapshot is exhausted, fn returns an error, or ctx ends.
func walk(ctx context.Context, kv jetstream.KeyValue, filter string, opts []jetstream.WatchOpt, fn func(jetstream.KeyValueEntry) error) error {
	w, err := kv.Watch(ctx, filter, append(opts, jetstream.IgnoreDeletes())...)
	if err != nil {
		return err
	}
	defer stopWatcher(w)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			switch {
			case !ok:
				return errWatchClosed
			case e == nil: // the snapshot is complete
				return nil
			}
			if err := fn(e); err != nil {
				return err
			}
		}
	}
}

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
func entryTarget(e jetstream.KeyValueEntry) (events.Target, bool) {
	key := e.Key()
	i := strings.LastIndexByte(key, '.')
	if i < 0 {
		return events.Target{}, false
	}
	j := strings.LastIndexByte(key[:i], '.')
	p := events.Platform(key[j+1 : i])
	if !p.Valid() || len(e.Value()) == 0 {
		return events.Target{}, false
	}
	return events.Target{Platform: p, Token: string(e.Value())}, true
}
