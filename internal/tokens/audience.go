package tokens

import (
	"context"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// DefaultResolveBatch is the batch size of Resolve when the caller gives none.
const DefaultResolveBatch = 500

// Resolve streams an intent's audience to fn in batches of at most batch
// targets; it implements the dispatcher's Audience. Explicit tokens are
// passed through; an alias or a tag is read from the index one entry at a
// time, so memory stays bounded by the batch whatever the audience size.
// Every listed device is passed, invalid ones included: suppressing those
// is the Suppressor's job (Cache). Each batch is a fresh slice that fn may
// keep. An error from fn stops the walk and is returned.
func (r *Registry) Resolve(ctx context.Context, app string, t events.Targets, batch int, fn func([]events.Target) error) error {
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
		return r.Each(ctx, app, AliasIndex, t.Alias, batch, fn)
	case t.Tag != "":
		return r.Each(ctx, app, TagIndex, t.Tag, batch, fn)
	}
	return nil
}

// Each streams every device listed under an alias or a tag to fn in
// batches of at most batch targets (DefaultResolveBatch when batch <= 0).
func (r *Registry) Each(ctx context.Context, app string, k Kind, name string, batch int, fn func([]events.Target) error) error {
	if err := checkTarget(app, k, name); err != nil {
		return err
	}
	if batch <= 0 {
		batch = DefaultResolveBatch
	}
	buf := make([]events.Target, 0, batch)
	err := r.scan.scan(ctx, indexFilter(app, k, name), 0, func(key string, _ uint64, value []byte) error {
		t, ok := entryTarget(key, value)
		if !ok {
			return nil
		}
		buf = append(buf, t)
		if len(buf) < batch {
			return nil
		}
		full := buf
		buf = make([]events.Target, 0, batch)
		return fn(full)
	})
	if err == nil && len(buf) > 0 {
		err = fn(buf)
	}
	return err
}
