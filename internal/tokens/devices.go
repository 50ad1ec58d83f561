package tokens

import (
	"context"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Devices is the device registry on top of the token store: apps register
// and unregister devices, and alias and tag audiences are listed from an
// index kept beside the records (see IndexKey). It is safe for concurrent
// use, also from several processes: every record write is a compare-and-swap.
type Devices struct {
	store *Store
	kv    jetstream.KeyValue
	scan  scanner
}

// NewDevices returns the device registry on the push_tokens bucket kv. Listings,
// audiences and counts read the bucket's stream through js with bounded
// pull consumers.
func NewDevices(js jetstream.StreamConsumerManager, kv jetstream.KeyValue) *Devices {
	return &Devices{store: NewStore(kv), kv: kv, scan: newScanner(js, kv.Bucket())}
}

// Store returns the token store the registry writes through. Any Store on
// the same bucket maintains the same index, so the feedback-sink may use its
// own.
func (r *Devices) Store() *Store { return r.store }

// Register creates or replaces a device's registration: alias, tags, locale
// and attributes are set to d's, the token becomes Active and RegisteredAt
// is now. Registering a token that was marked invalid or retired revives
// it; an invalid_token event older than the registration cannot undo that.
// Every index entry of the device is rewritten, which also repairs entries
// lost to a writer that crashed half-way.
func (r *Devices) Register(ctx context.Context, d Device) (*Record, error) {
	d, err := d.normalize()
	if err != nil {
		return nil, err
	}
	now := r.store.now().UTC()
	rec, _, err := r.store.update(ctx, d.App, d.Platform, d.Token, updateMode{create: true, reindex: true}, func(rec *Record) bool {
		rec.State, rec.RegisteredAt = Active, &now
		rec.Reason, rec.InvalidAt, rec.ReplacedBy = "", nil, ""
		rec.Alias, rec.Tags, rec.Locale, rec.Attributes = d.Alias, d.Tags, d.Locale, d.Attributes
		return true
	})
	return rec, err
}

// UpdateTags adds and removes tags of a registered device without touching
// the rest of its registration; concurrent calls never lose each other's
// tags. Removing a tag the device does not carry is not an error. It
// returns ErrNotFound for a device with no record.
func (r *Devices) UpdateTags(ctx context.Context, app string, p events.Platform, token string, add, remove []string) (*Record, error) {
	if err := checkRef(app, p, token); err != nil {
		return nil, err
	}
	add, err := normalizeTags("add", add)
	if err != nil {
		return nil, err
	}
	remove, err = normalizeTags("remove", remove)
	if err != nil {
		return nil, err
	}
	var tooMany bool
	rec, _, err := r.store.update(ctx, app, p, token, updateMode{}, func(rec *Record) bool {
		tags := slices.DeleteFunc(slices.Clone(rec.Tags), func(t string) bool {
			_, drop := slices.BinarySearch(remove, t)
			return drop
		})
		tags = slices.Compact(slices.Sorted(slices.Values(append(tags, add...))))
		if len(tags) > MaxTags {
			tooMany = true
			return false
		}
		if slices.Equal(tags, rec.Tags) {
			return false
		}
		rec.Tags = tags
		if len(tags) == 0 {
			rec.Tags = nil
		}
		return true
	})
	if tooMany {
		return nil, invalidDevice("add", "the device would carry more than %d tags", MaxTags)
	}
	return rec, err
}

// Get returns a device's record, or ErrNotFound.
func (r *Devices) Get(ctx context.Context, app string, p events.Platform, token string) (*Record, error) {
	if err := checkRef(app, p, token); err != nil {
		return nil, err
	}
	rec, _, err := r.store.get(ctx, app, p, token)
	return rec, err
}

// Unregister removes a device: its record and its index entries. It returns
// ErrNotFound when there is nothing to remove. A later feedback event for
// the token may record it again (as invalid, say), which is what an
// explicit push to a forgotten token should lead to.
func (r *Devices) Unregister(ctx context.Context, app string, p events.Platform, token string) error {
	if err := checkRef(app, p, token); err != nil {
		return err
	}
	key := Key(app, p, token)
	for attempt := range maxCASAttempts {
		if attempt > 0 {
			if err := conflictBackoff(ctx, attempt); err != nil {
				return err
			}
		}
		rec, rev, err := r.store.get(ctx, app, p, token)
		if err != nil {
			return err
		}
		err = r.kv.Delete(ctx, key, jetstream.LastRevision(rev))
		if isConflict(err) {
			continue
		}
		if err != nil {
			return err
		}
		if before := membership(rec); len(before) > 0 {
			return r.store.syncIndex(ctx, app, p, token, before, labelSet{})
		}
		return nil
	}
	return fmt.Errorf("%w: token %s/%s/%s after %d attempts", ErrConflict, app, p, Short(token), maxCASAttempts)
}

// checkTarget validates the app and label of a list or resolve call.
func checkTarget(app string, k Kind, name string) error {
	if !events.ValidApp(app) {
		return invalidDevice("app", "must be 1-64 characters of A-Z a-z 0-9 _ -")
	}
	if k != AliasIndex && k != TagIndex {
		return invalidDevice("kind", "unknown index kind %q", k)
	}
	return checkLabel(string(k), name)
}
