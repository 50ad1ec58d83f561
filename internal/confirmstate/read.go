package confirmstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Reader is what this package reads KV push_confirm with;
// jetstream.KeyValue satisfies it.
type Reader interface {
	Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error)
	Watch(ctx context.Context, keys string, opts ...jetstream.WatchOpt) (jetstream.KeyWatcher, error)
}

// Entry is a decoded record with its revision, for compare-and-set.
type Entry[T any] struct {
	Value    T
	Revision uint64
}

// Get reads and decodes the record at key; a missing key is
// jetstream.ErrKeyNotFound.
func Get[T any](ctx context.Context, kv Reader, key string) (*Entry[T], error) {
	e, err := kv.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	var v T
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	return &Entry[T]{Value: v, Revision: e.Revision()}, nil
}

// TokenStates lists the token states of intent id of app, keyed by their
// key.
func TokenStates(ctx context.Context, kv Reader, app, id string) (map[string]*Entry[TokenState], error) {
	w, err := kv.Watch(ctx, WatchKey(app, id)+".*", jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer func() { _ = w.Stop() }()
	out := map[string]*Entry[TokenState]{}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("token watch closed")
			}
			if e == nil { // every current value was sent
				return out, nil
			}
			var ts TokenState
			if err := json.Unmarshal(e.Value(), &ts); err != nil {
				return nil, fmt.Errorf("decode %s: %w", e.Key(), err)
			}
			out[e.Key()] = &Entry[TokenState]{Value: ts, Revision: e.Revision()}
		}
	}
}
