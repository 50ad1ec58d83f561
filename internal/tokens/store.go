package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Store reads and writes token records in a KV bucket.
type Store struct {
	kv  jetstream.KeyValue
	now func() time.Time
}

// NewStore wraps a KV bucket (events.TokensBucket).
func NewStore(kv jetstream.KeyValue) *Store { return &Store{kv: kv, now: time.Now} }

// ErrNotFound is returned for a token with no record.
var ErrNotFound = errors.New("token not found")

// Get returns a token's record and its revision.
func (s *Store) Get(ctx context.Context, app string, p events.Platform, token string) (*Record, uint64, error) {
	e, err := s.kv.Get(ctx, Key(app, p, token))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	var r Record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return nil, 0, fmt.Errorf("token record %s: %w", e.Key(), err)
	}
	return &r, e.Revision(), nil
}

// maxCASAttempts bounds the compare-and-swap loop under contention.
const maxCASAttempts = 16

// Update applies fn to the token's record (a fresh Active one if none exists)
// with compare-and-swap, retrying on conflicts. fn returns false to leave the
// record unchanged. It reports whether a write happened.
func (s *Store) Update(ctx context.Context, app string, p events.Platform, token string, fn func(r *Record) bool) (bool, error) {
	key := Key(app, p, token)
	for range maxCASAttempts {
		r, rev, err := s.Get(ctx, app, p, token)
		switch {
		case errors.Is(err, ErrNotFound):
			r = &Record{App: app, Platform: p, Token: token, State: Active}
		case err != nil:
			return false, err
		}
		if !fn(r) {
			return false, nil
		}
		r.UpdatedAt = s.now().UTC()
		b, err := json.Marshal(r)
		if err != nil {
			return false, err
		}
		if rev == 0 {
			_, err = s.kv.Create(ctx, key, b)
		} else {
			_, err = s.kv.Update(ctx, key, b, rev)
		}
		// Replicated buckets report a lost race as ErrKeyRevisionMismatch;
		// a single server reports Create on an existing key as ErrKeyExists.
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
			continue
		}
		return err == nil, err
	}
	return false, fmt.Errorf("token %s: %d conflicting writers, giving up", key, maxCASAttempts)
}
