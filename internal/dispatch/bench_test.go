package dispatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/dispatch"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// BenchmarkHandle is the dispatcher handling one intent of 1 or 100 APNs
// tokens, end to end on an in-process JetStream server with file storage:
// decode and validate, batch, publish the job and wait for its PubAck.
// Every iteration has a fresh intent id, so no job is a duplicate.
func BenchmarkHandle(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("tokens=%d", n), func(b *testing.B) { benchHandle(b, n) })
	}
}

func benchHandle(b *testing.B, n int) {
	ctx := context.Background()
	srv := natstest.RunServer(b)
	nc, _ := natstest.Connect(b, srv)
	// As the fleet's services publish (fleet.NewJetStream).
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(16384))
	if err != nil {
		b.Fatal(err)
	}
	if err := streams.Provision(ctx, js, streams.Config{}); err != nil {
		b.Fatal(err)
	}
	d, err := dispatch.New(dispatch.Config{}, js, metrics.New(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	in := events.Intent{ID: "ID", App: "bench", Notification: events.Notification{Title: "pushbench",
		Body: "Your order has shipped and is on its way.", Data: map[string]any{"order": "4711"}}}
	for i := range n {
		in.Targets.Tokens = append(in.Targets.Tokens, events.Target{Platform: events.APNs, Token: fmt.Sprintf("%064x", i)})
	}
	raw, err := json.Marshal(in)
	if err != nil {
		b.Fatal(err)
	}
	// The intent around its id, so that each iteration gets its own.
	head, tail, _ := strings.Cut(string(raw), `"id":"ID"`)
	jobs, err := js.Stream(ctx, events.SendStream(events.APNs))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 && i%5000 == 0 { // keep the job stream small; not timed
			b.StopTimer()
			if err := jobs.Purge(ctx); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		body := []byte(head + `"id":"bench-` + strconv.Itoa(i) + `"` + tail)
		if v := d.Handle(ctx, msg{data: body, subject: events.IntentSubject("bench")}); v.Action != consumer.Ack {
			b.Fatalf("verdict %+v", v)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/token")
}
