package tokens

import (
	"context"
	"encoding/json"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// DefaultResolveBatch is the batch size of Resolve when the caller gives none.
const DefaultResolveBatch = 500

// Resolve streams an intent's audience to fn in batches of at most batch
// targets; it implements the dispatcher's Audience. Explicit tokens are
// passed through; an alias, a tag or all (every registered device of the
// app) is read from the bucket one entry at a time, so memory stays bounded
// by the batch whatever the audience size. A platform filter
// (Targets.Platforms) is applied by the server: the scan asks only for the
// keys of those platforms. Every listed device is passed, invalid ones
// included: suppressing those is the Suppressor's job (Cache); retired
// records (replaced tokens) are skipped. Each batch is a fresh slice that
// fn may keep. An error from fn stops the walk and is returned.
func (r *Devices) Resolve(ctx context.Context, app string, t events.Targets, batch int, fn func([]events.Target) error) error {
	if batch <= 0 {
		batch = DefaultResolveBatch
	}
	switch {
	case len(t.Tokens) > 0:
		for i := 0; i < len(t.Tokens); i += batch {
			end := min(i+batch, len(t.Tokens))
			if err := fn(t.Tokens[i:end:end]); err != nil {
				return err
			}
		}
		return nil
	case t.Alias != "":
		return r.EachOf(ctx, app, AliasIndex, t.Alias, t.Platforms, batch, fn)
	case t.Tag != "":
		return r.EachOf(ctx, app, TagIndex, t.Tag, t.Platforms, batch, fn)
	case t.All:
		return r.EachDevice(ctx, app, t.Platforms, batch, fn)
	}
	return nil
}

// Each streams every device listed under an alias or a tag to fn in
// batches of at most batch targets (DefaultResolveBatch when batch <= 0).
func (r *Devices) Each(ctx context.Context, app string, k Kind, name string, batch int, fn func([]events.Target) error) error {
	return r.EachOf(ctx, app, k, name, nil, batch, fn)
}

// EachOf is Each for the devices of platforms only (nil or empty: every
// platform).
func (r *Devices) EachOf(ctx context.Context, app string, k Kind, name string, platforms []events.Platform, batch int, fn func([]events.Target) error) error {
	if err := checkTarget(app, k, name); err != nil {
		return err
	}
	if err := checkPlatforms(platforms); err != nil {
		return err
	}
	filters := []string{indexFilter(app, k, name)}
	if len(platforms) > 0 {
		filters = filters[:0]
		for _, p := range platforms {
			filters = append(filters, indexPrefix(app, k, name)+"."+string(p)+".*")
		}
	}
	b := newBatcher(batch, fn)
	err := r.scan.scanAll(ctx, filters, 0, func(key string, _ uint64, value []byte) error {
		t, ok := entryTarget(key, value)
		if !ok {
			return nil
		}
		return b.add(t)
	})
	return b.end(err)
}

// EachDevice streams every registered device of app (of platforms only,
// when given) to fn in batches of at most batch targets, reading the
// records one at a time: push-to-all with bounded memory. Retired records
// (tokens replaced by a newer one) are skipped, as they are in every alias
// and tag; invalid ones are passed for the Suppressor to drop.
func (r *Devices) EachDevice(ctx context.Context, app string, platforms []events.Platform, batch int, fn func([]events.Target) error) error {
	if !events.ValidApp(app) {
		return invalidDevice("app", "must be 1-64 characters of A-Z a-z 0-9 _ -")
	}
	if err := checkPlatforms(platforms); err != nil {
		return err
	}
	var filters []string
	if len(platforms) == 0 {
		filters = []string{appRecordsFilter(app)}
	}
	for _, p := range platforms {
		filters = append(filters, app+"."+string(p)+".*")
	}
	b := newBatcher(batch, fn)
	err := r.scan.scanAll(ctx, filters, 0, func(key string, _ uint64, value []byte) error {
		_, p, ok := splitRecordKey(key)
		if !ok {
			return nil
		}
		var rec struct {
			Token string `json:"token"`
			State State  `json:"state"`
		}
		if json.Unmarshal(value, &rec) != nil || rec.Token == "" || rec.State == Retired {
			return nil
		}
		return b.add(events.Target{Platform: p, Token: rec.Token})
	})
	return b.end(err)
}

// checkPlatforms refuses unknown or repeated platforms in a filter
// (repeats would make the scan's filters overlap).
func checkPlatforms(ps []events.Platform) error {
	seen := map[events.Platform]bool{}
	for _, p := range ps {
		if !p.Valid() {
			return invalidDevice("platforms", "unknown platform %q (want apns, fcm or mi)", p)
		}
		if seen[p] {
			return invalidDevice("platforms", "platform %q is listed twice", p)
		}
		seen[p] = true
	}
	return nil
}

// batcher hands targets to fn in fresh slices of at most n.
type batcher struct {
	n   int
	buf []events.Target
	fn  func([]events.Target) error
}

func newBatcher(n int, fn func([]events.Target) error) *batcher {
	if n <= 0 {
		n = DefaultResolveBatch
	}
	return &batcher{n: n, buf: make([]events.Target, 0, n), fn: fn}
}

func (b *batcher) add(t events.Target) error {
	b.buf = append(b.buf, t)
	if len(b.buf) < b.n {
		return nil
	}
	full := b.buf
	b.buf = make([]events.Target, 0, b.n)
	return b.fn(full)
}

// end passes the last partial batch unless the walk failed.
func (b *batcher) end(err error) error {
	if err == nil && len(b.buf) > 0 {
		err = b.fn(b.buf)
		b.buf = nil
	}
	return err
}
