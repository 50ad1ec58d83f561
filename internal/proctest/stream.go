package proctest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ReadStream hands every message on stream, as stored when it is called,
// to fn, in order, within timeout; anything less fails t.
func ReadStream(t testing.TB, js jetstream.StreamManager, stream string, timeout time.Duration, fn func(jetstream.Msg)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := info.State.Msgs
	if want == 0 {
		return
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var got uint64
	for got < want && ctx.Err() == nil {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatalf("read %s: %v", stream, err)
		}
		for m := range batch.Messages() {
			fn(m)
			got++
		}
	}
	if got < want {
		t.Fatalf("read %s: %d of %d messages: %v", stream, got, want, ctx.Err())
	}
}
