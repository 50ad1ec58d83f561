package tokens

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Kind is what an index entry lists a device under.
type Kind string

// Index kinds: the second token of an index key.
const (
	AliasIndex Kind = "alias"
	TagIndex   Kind = "tag"
)

// Key layout of the push_tokens bucket. Every part is a single key token
// (base64url or hex, never a '.'), so the token count tells records and
// index entries apart and wildcards select them:
//
//	<app>.<platform>.<TokenKey(token)>                          record (JSON Record)
//	<app>.alias.<TokenKey(alias)>.<platform>.<TokenKey(token)>  index entry, value: the raw token
//	<app>.tag.<TokenKey(tag)>.<platform>.<TokenKey(token)>      index entry, value: the raw token
//
// The value of an index entry is the device token itself, so listing an
// alias or a tag needs no read of the records.
const (
	// recordsFilter matches every record and no index entry.
	recordsFilter = "*.*.*"
)

// IndexKey is the KV key listing a device under an alias or a tag.
func IndexKey(app string, k Kind, label string, p events.Platform, token string) string {
	return indexPrefix(app, k, label) + "." + string(p) + "." + TokenKey(token)
}

// indexPrefix is the part of an index key shared by every member of a label.
func indexPrefix(app string, k Kind, label string) string {
	return app + "." + string(k) + "." + TokenKey(label)
}

// indexFilter matches every index entry of one alias or tag.
func indexFilter(app string, k Kind, label string) string {
	return indexPrefix(app, k, label) + ".>"
}

// appRecordsFilter matches every record of one app ("" means every app).
func appRecordsFilter(app string) string {
	if app == "" {
		return recordsFilter
	}
	return app + ".*.*"
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

// label is one index membership of a device.
type label struct {
	kind Kind
	name string
}

// labelSet is the set of labels a record is listed under.
type labelSet map[label]bool

// membership returns the labels r must be listed under: its alias and tags,
// unless it is retired (a replaced token's audience moved to the new token)
// or absent. Invalid tokens stay listed: the Suppressor drops them, and a
// registration revives them in place.
func membership(r *Record) labelSet {
	if r == nil || r.State == Retired {
		return labelSet{}
	}
	s := make(labelSet, len(r.Tags)+1)
	if r.Alias != "" {
		s[label{AliasIndex, r.Alias}] = true
	}
	for _, t := range r.Tags {
		s[label{TagIndex, t}] = true
	}
	return s
}

// changed returns the labels whose membership differs between a and b.
func changed(a, b labelSet) labelSet {
	out := labelSet{}
	for l := range a {
		if !b[l] {
			out[l] = true
		}
	}
	for l := range b {
		if !a[l] {
			out[l] = true
		}
	}
	return out
}

// union returns the labels in a or b.
func union(a, b labelSet) labelSet {
	out := make(labelSet, len(a)+len(b))
	for l := range a {
		out[l] = true
	}
	for l := range b {
		out[l] = true
	}
	return out
}

// indexParallelism bounds concurrent index writes for one device.
const indexParallelism = 8

// syncIndex makes the index entries of the touched labels agree with the
// token's record, starting from want (the membership of the record just
// written). Index entries are plain puts and deletes, so two writers of
// the same device may land them out of order; after writing, the record is
// read again and, if another writer changed the membership of a touched
// label meanwhile, the entries are rewritten from the newer record. The last
// write to an index entry is therefore always checked against a record read
// after it, and the index converges on the record.
func (s *Store) syncIndex(ctx context.Context, app string, p events.Platform, token string, touched, want labelSet) error {
	written := labelSet{}
	for range maxCASAttempts {
		var g errgroup.Group
		g.SetLimit(indexParallelism)
		for l := range touched {
			if w, ok := written[l]; ok && w == want[l] {
				continue
			}
			key := IndexKey(app, l.kind, l.name, p, token)
			present := want[l]
			written[l] = present
			g.Go(func() error {
				if present {
					_, err := s.kv.Put(ctx, key, []byte(token))
					return err
				}
				return s.kv.Delete(ctx, key)
			})
		}
		if err := g.Wait(); err != nil {
			return fmt.Errorf("%w: token %s: %w", ErrIndex, Short(token), err)
		}
		cur, _, err := s.get(ctx, app, p, token)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: token %s: %w", ErrIndex, Short(token), err)
		}
		now := membership(cur)
		settled := true
		for l := range touched {
			if now[l] != want[l] {
				settled = false
			}
		}
		if settled {
			return nil
		}
		want = now
	}
	return fmt.Errorf("%w: token %s: %w", ErrIndex, Short(token), ErrConflict)
}

// isConflict reports a lost compare-and-swap race. Replicated buckets report
// it as ErrKeyRevisionMismatch; a single server reports Create on an
// existing key as ErrKeyExists.
func isConflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists)
}
