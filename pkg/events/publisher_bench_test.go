package events_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// publishBenchEnv is an in-process server with the fleet's streams in
// memory. The server runs in the benchmark's process: ns/op and allocs/op
// count its work too (storing, deduplicating, acknowledging), the same for
// both ways of publishing.
func publishBenchEnv(b *testing.B) jetstream.JetStream {
	b.Helper()
	_, js := natstest.Connect(b, natstest.RunServer(b))
	if err := streams.Provision(context.Background(), js, streams.Config{Storage: jetstream.MemoryStorage}); err != nil {
		b.Fatal(err)
	}
	return js
}

// BenchmarkPublishSync is one S1 intent per op published with Publish,
// waiting for each PubAck.
func BenchmarkPublishSync(b *testing.B) {
	js := publishBenchEnv(b)
	p := events.NewPublisher(js)
	ctx := context.Background()
	in := benchIntent(1) // pushbench's S1 intent: one token
	b.ReportAllocs()
	for i := range b.N {
		in.ID = "bench-" + strconv.Itoa(i)
		if _, err := p.Publish(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishAsync is one S1 intent per op published with
// PublishAsync (default bound), every one acknowledged by the final Flush.
// Each publish on its own connection stands for a producer's; a
// PublishAsync's ns/op is not its latency but its cost.
func BenchmarkPublishAsync(b *testing.B) {
	js := publishBenchEnv(b)
	a, err := events.NewPublisher(js).Async(events.AsyncConfig{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	in := benchIntent(1)
	b.ReportAllocs()
	for i := range b.N {
		in.ID = "bench-" + strconv.Itoa(i) // PublishAsync has encoded the last one
		if _, err := a.PublishAsync(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	// Timed: the op is done once acknowledged.
	sum, err := a.Flush(ctx)
	if err != nil || sum.Acked != b.N {
		b.Fatalf("flush: %d of %d acknowledged: %v", sum.Acked, b.N, err)
	}
}
