package fleet

import (
	"context"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// jobIDs is the bucket of jobs taken (events.JobIDsBucket) for a sender,
// bound on first use: a sender's consumers wait for their streams to be
// provisioned, and the bucket is provisioned with them.
type jobIDs struct {
	js jetstream.KeyValueManager
	mu sync.Mutex
	kv jetstream.KeyValue
}

func (b *jobIDs) bind(ctx context.Context) (jetstream.KeyValue, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.kv != nil {
		return b.kv, nil
	}
	kv, err := b.js.KeyValue(ctx, events.JobIDsBucket)
	if err != nil {
		return nil, err
	}
	b.kv = kv
	return kv, nil
}

func (b *jobIDs) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	kv, err := b.bind(ctx)
	if err != nil {
		return 0, err
	}
	return kv.Create(ctx, key, value, opts...)
}

func (b *jobIDs) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	kv, err := b.bind(ctx)
	if err != nil {
		return nil, err
	}
	return kv.Get(ctx, key)
}
