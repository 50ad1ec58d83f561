package puback_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/puback"
)

// future is a PubAckFuture already settled: acked when err is nil, failed
// with err otherwise, or pending forever when pending.
type future struct {
	err     error
	pending bool
}

func (f future) Ok() <-chan *jetstream.PubAck {
	c := make(chan *jetstream.PubAck, 1)
	if f.err == nil && !f.pending {
		c <- &jetstream.PubAck{}
	}
	return c
}

func (f future) Err() <-chan error {
	c := make(chan error, 1)
	if f.err != nil {
		c <- f.err
	}
	return c
}

func (future) Msg() *nats.Msg { return nil }

func TestWaitAll(t *testing.T) {
	errA, errB := errors.New("a"), errors.New("b")
	for _, tc := range []struct {
		name    string
		futures []jetstream.PubAckFuture
		want    error
	}{
		{"none", nil, nil},
		{"all acked", []jetstream.PubAckFuture{future{}, future{}}, nil},
		{"the first error", []jetstream.PubAckFuture{future{}, future{err: errA}, future{err: errB}}, errA},
		{"context ends", []jetstream.PubAckFuture{future{}, future{pending: true}}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			if tc.want == context.Canceled {
				cancel()
			}
			defer cancel()
			if err := puback.WaitAll(ctx, tc.futures); !errors.Is(err, tc.want) {
				t.Fatalf("WaitAll = %v, want %v", err, tc.want)
			}
		})
	}
}
