package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Store reads and writes token records in a KV bucket.
type Store struct {
	kv    jetstream.KeyValue
	now   func() time.Time
	cache atomic.Pointer[Cache]
}

// NewStore wraps a KV bucket (events.TokensBucket).
func NewStore(kv jetstream.KeyValue) *Store { return &Store{kv: kv, now: time.Now} }

// UseCache lets the store consult c before KV reads it can skip: TouchSuccess
// does nothing for tokens the cache does not know or knows are not active.
// c must watch the same bucket; until it is ready every read goes to KV.
func (s *Store) UseCache(c *Cache) { s.cache.Store(c) }

// ErrNotFound is returned for a token with no record.
var ErrNotFound = errors.New("token not found")

// Get returns a token's record and its revision. app, p and token are
// validated first (an error wrapping ErrInvalidDevice), as at every entry
// point of this package that builds a key.
func (s *Store) Get(ctx context.Context, app string, p events.Platform, token string) (*Record, uint64, error) {
	if err := checkRef(app, p, token); err != nil {
		return nil, 0, err
	}
	return s.get(ctx, app, p, token)
}

// get is Get for names already checked.
func (s *Store) get(ctx context.Context, app string, p events.Platform, token string) (*Record, uint64, error) {
	e, err := s.kv.Get(ctx, Key(app, p, token))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	var r Record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return nil, 0, fmt.Errorf("token record %s/%s/%s: %w", app, p, Short(token), err)
	}
	return &r, e.Revision(), nil
}

// maxCASAttempts bounds the compare-and-swap loop under contention.
const maxCASAttempts = 64

// Update applies fn to the token's record (a fresh Active one if none exists)
// with compare-and-swap, retrying on conflicts. fn returns false to leave the
// record unchanged. It reports whether a write happened. When the write
// changes the record's alias or tags (or retires it), the alias/tag index is
// brought in line; an error wrapping ErrIndex then means the record was
// written but the index may lag. Invalid names are refused with an error
// wrapping ErrInvalidDevice.
func (s *Store) Update(ctx context.Context, app string, p events.Platform, token string, fn func(r *Record) bool) (bool, error) {
	_, ok, err := s.update(ctx, app, p, token, updateMode{create: true}, fn)
	return ok, err
}

// updateMode tunes update.
type updateMode struct {
	// create starts from a fresh Active record when none exists; otherwise
	// a missing record is ErrNotFound.
	create bool
	// reindex rewrites every index entry of the record, not only the changed
	// ones: a registration repairs entries a crashed writer left out.
	reindex bool
}

func (s *Store) update(ctx context.Context, app string, p events.Platform, token string, mode updateMode, fn func(r *Record) bool) (*Record, bool, error) {
	if err := checkRef(app, p, token); err != nil {
		return nil, false, err
	}
	key := Key(app, p, token)
	for attempt := range maxCASAttempts {
		if attempt > 0 {
			if err := conflictBackoff(ctx, attempt); err != nil {
				return nil, false, err
			}
		}
		r, rev, err := s.get(ctx, app, p, token)
		switch {
		case errors.Is(err, ErrNotFound):
			if !mode.create {
				return nil, false, ErrNotFound
			}
			r = &Record{App: app, Platform: p, Token: token, State: Active}
		case err != nil:
			return nil, false, err
		}
		before := labelSet{}
		if rev != 0 {
			before = membership(r)
		}
		if !fn(r) {
			return r, false, nil
		}
		r.UpdatedAt = s.now().UTC()
		b, err := json.Marshal(r)
		if err != nil {
			return nil, false, err
		}
		if rev == 0 {
			_, err = s.kv.Create(ctx, key, b)
		} else {
			_, err = s.kv.Update(ctx, key, b, rev)
		}
		if isConflict(err) {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		after := membership(r)
		touched := changed(before, after)
		if mode.reindex {
			touched = union(before, after)
		}
		if len(touched) > 0 {
			if err := s.syncIndex(ctx, app, p, token, touched, after); err != nil {
				return r, true, err
			}
		}
		return r, true, nil
	}
	return nil, false, fmt.Errorf("%w: token %s/%s/%s after %d attempts", ErrConflict, app, p, Short(token), maxCASAttempts)
}

// conflictBackoff waits a little, at random, before retrying a lost race, so
// that writers of one hot record spread out instead of colliding again.
func conflictBackoff(ctx context.Context, attempt int) error {
	d := rand.N(time.Duration(min(attempt, 20)) * time.Millisecond)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
