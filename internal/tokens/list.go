package tokens

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Page bounds of alias and tag listings.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

// Page asks for one page of an alias's or a tag's devices.
type Page struct {
	// Cursor continues a listing where the previous page ended; "" starts
	// at the beginning.
	Cursor string
	// Limit is the most devices returned (default DefaultPageLimit, at most
	// MaxPageLimit).
	Limit int
}

// Members is one page of an alias's or a tag's devices.
type Members struct {
	Devices []events.Target
	// Next continues the listing; it is empty on the last page.
	Next string
}

// ListAlias returns one page of the devices registered with an alias.
func (r *Devices) ListAlias(ctx context.Context, app, alias string, page Page) (Members, error) {
	return r.List(ctx, app, AliasIndex, alias, page)
}

// ListTag returns one page of the devices carrying a tag.
func (r *Devices) ListTag(ctx context.Context, app, tag string, page Page) (Members, error) {
	return r.List(ctx, app, TagIndex, tag, page)
}

// List returns one page of the devices listed under an alias or a tag, in
// the order they joined it (index revision order). Cursors are positions
// in that order, so pages never skip a device that stays listed; a device
// whose entry is rewritten while a listing is under way may show up again
// on a later page. Cursors rely on the bucket keeping one revision per key
// (History 1, as provisioned).
func (r *Devices) List(ctx context.Context, app string, k Kind, name string, page Page) (Members, error) {
	if err := checkTarget(app, k, name); err != nil {
		return Members{}, err
	}
	limit := page.Limit
	switch {
	case limit < 0:
		return Members{}, invalidDevice("limit", "must not be negative")
	case limit == 0:
		limit = DefaultPageLimit
	case limit > MaxPageLimit:
		limit = MaxPageLimit
	}
	var from uint64
	if page.Cursor != "" {
		var err error
		from, err = strconv.ParseUint(page.Cursor, 10, 64)
		if err != nil || from == 0 {
			return Members{}, fmt.Errorf("%w: %q", ErrInvalidCursor, page.Cursor)
		}
	}
	m := Members{Devices: make([]events.Target, 0, min(limit, 64))}
	var last uint64
	err := r.scan.scan(ctx, indexFilter(app, k, name), from, func(key string, rev uint64, value []byte) error {
		t, ok := entryTarget(key, value)
		if !ok {
			return nil
		}
		if len(m.Devices) == limit { // one more exists: there is a next page
			m.Next = strconv.FormatUint(last+1, 10)
			return errStop
		}
		m.Devices = append(m.Devices, t)
		last = rev
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return Members{}, err
	}
	return m, nil
}
