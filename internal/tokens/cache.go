package tokens

import (
	"cmp"
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// CacheConfig tunes a Cache. Zero values take the documented defaults.
type CacheConfig struct {
	// RetryWait is the pause before watching again after the watch ended
	// with an error (default 1s).
	RetryWait time.Duration
	Logger    *slog.Logger
}

func (c *CacheConfig) setDefaults() {
	if c.RetryWait <= 0 {
		c.RetryWait = time.Second
	}
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
}

// Cache is an in-memory view of token state, kept current by a watch on
// every record of the push_tokens bucket. It implements the dispatcher's
// Suppressor: Suppressed is a map lookup, never a KV read. It also tells
// the Store which tokens exist (so delivered events for unknown tokens cost
// nothing) and keeps device counts by app, platform and state.
//
// Memory: the keys of invalid tokens (exact, for suppression), and for every
// record a 64-bit hash of its key and a one-byte state (about 20 bytes per
// device in Go maps; a hash collision only costs a KV read or an off-by-one
// count, never a wrong suppression).
type Cache struct {
	kv   jetstream.KeyValue
	cfg  CacheConfig
	seed maphash.Seed

	ready     atomic.Bool
	readyCh   chan struct{}
	readyOnce sync.Once

	mu   sync.RWMutex
	view *cacheView
}

// NewCache returns a cache of the records in kv; call Run to fill it.
func NewCache(kv jetstream.KeyValue, cfg CacheConfig) *Cache {
	cfg.setDefaults()
	return &Cache{kv: kv, cfg: cfg, seed: maphash.MakeSeed(), readyCh: make(chan struct{})}
}

// cacheView is one consistent picture of the bucket's records.
type cacheView struct {
	invalid map[string]struct{} // record keys of invalid tokens
	states  map[uint64]stateCode
	counts  counts
}

func newCacheView() *cacheView {
	return &cacheView{invalid: map[string]struct{}{}, states: map[uint64]stateCode{}, counts: counts{}}
}

// stateCode is a State in one byte.
type stateCode uint8

const (
	codeOther stateCode = iota
	codeActive
	codeInvalid
	codeRetired
)

func codeOf(s State) stateCode {
	switch s {
	case Active:
		return codeActive
	case Invalid:
		return codeInvalid
	case Retired:
		return codeRetired
	}
	return codeOther
}

func (c stateCode) state() State {
	switch c {
	case codeActive:
		return Active
	case codeInvalid:
		return Invalid
	case codeRetired:
		return Retired
	}
	return "other"
}

// Run watches the bucket until ctx ends, then returns nil. The first
// complete snapshot makes the cache ready; if the watch breaks, a new one
// is started and swapped in once complete, while the old view keeps serving.
func (c *Cache) Run(ctx context.Context) error {
	for {
		err := c.watch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		c.cfg.Logger.Warn("token cache watch ended, watching again", "err", err, "retry_in", c.cfg.RetryWait)
		t := time.NewTimer(c.cfg.RetryWait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

func (c *Cache) watch(ctx context.Context) error {
	w, err := c.kv.Watch(ctx, recordsFilter)
	if err != nil {
		return err
	}
	defer stopWatcher(w)
	next, live := newCacheView(), false
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			switch {
			case !ok:
				return errWatchClosed
			case e == nil: // initial snapshot complete
				c.mu.Lock()
				c.view = next
				c.mu.Unlock()
				live = true
				c.markReady()
			case live:
				c.mu.Lock()
				c.apply(next, e)
				c.mu.Unlock()
			default:
				c.apply(next, e)
			}
		}
	}
}

func (c *Cache) markReady() {
	c.readyOnce.Do(func() {
		c.ready.Store(true)
		close(c.readyCh)
		c.cfg.Logger.Info("token cache ready")
	})
}

// apply folds one watched entry into v.
func (c *Cache) apply(v *cacheView, e jetstream.KeyValueEntry) {
	key := e.Key()
	app, p, ok := splitRecordKey(key)
	if !ok {
		return
	}
	h := maphash.String(c.seed, key)
	if old, had := v.states[h]; had {
		v.counts.add(countKey{app, p, old.state()}, -1)
		delete(v.states, h)
	}
	delete(v.invalid, key)
	if e.Operation() != jetstream.KeyValuePut {
		return
	}
	st, ok := recordState(e.Value())
	if !ok {
		c.cfg.Logger.Warn("token cache: unreadable record", "app", app, "platform", p, "revision", e.Revision())
		return
	}
	code := codeOf(st)
	v.states[h] = code
	v.counts.add(countKey{app, p, code.state()}, 1)
	if code == codeInvalid {
		v.invalid[key] = struct{}{}
	}
}

// Ready reports whether the first snapshot of the bucket is loaded. Before
// that Suppressed reports false for every token: gate readiness on it.
func (c *Cache) Ready() bool { return c.ready.Load() }

// WaitReady blocks until the cache is ready or ctx ends.
func (c *Cache) WaitReady(ctx context.Context) error {
	select {
	case <-c.readyCh:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Suppressed reports whether the token is known to be invalid; it
// implements the dispatcher's Suppressor. Retired (replaced) tokens are not
// suppressed: an explicit push to one may still be accepted by the provider,
// and alias and tag audiences no longer list them.
func (c *Cache) Suppressed(app string, p events.Platform, token string) bool {
	key := Key(app, p, token)
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.view == nil {
		return false
	}
	_, ok := c.view.invalid[key]
	return ok
}

// lookup returns what the cache knows of a record key.
func (c *Cache) lookup(key string) (st State, known, ready bool) {
	h := maphash.String(c.seed, key)
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.view == nil {
		return "", false, false
	}
	code, known := c.view.states[h]
	return code.state(), known, true
}

// Stats returns the device counts of app ("" for every app) by platform and
// state, from memory. It is empty until the cache is ready.
func (c *Cache) Stats(app string) Stats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.view == nil {
		return Stats{}
	}
	return c.view.counts.stats(app)
}

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
