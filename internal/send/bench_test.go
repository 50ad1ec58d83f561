package send

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// benchEnv is an in-process JetStream server (file storage) with the
// fleet's streams, and a sender service for APNs around s.
func benchEnv(b *testing.B, s provider.Sender) (*Service, jetstream.Stream) {
	b.Helper()
	svc, js := newTestService(b, Config{Platform: events.APNs}, s)
	fb, err := js.Stream(context.Background(), events.StreamFeedback)
	if err != nil {
		b.Fatal(err)
	}
	return svc, fb
}

func benchJob(n int) *events.Job {
	j := &events.Job{ID: "bench-job", IntentID: "bench-intent", App: "bench", Platform: events.APNs,
		Notification: events.Notification{Title: "pushbench", Body: "Your order has shipped and is on its way.",
			Data: map[string]any{"order": "4711"}}, CreatedAt: time.Now()}
	for i := range n {
		j.Tokens = append(j.Tokens, fmt.Sprintf("%064x", i))
	}
	return j
}

func delivered(job *events.Job) []provider.Result {
	rs := make([]provider.Result, len(job.Tokens))
	for i, t := range job.Tokens {
		rs[i] = provider.Result{Token: t, Kind: provider.Delivered}
	}
	return rs
}

// purgeEvery keeps PUSH_FEEDBACK small outside the timed region.
func purgeEvery(b *testing.B, i, every int, s jetstream.Stream) {
	if i == 0 || i%every != 0 {
		return
	}
	b.StopTimer()
	if err := s.Purge(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
}

// BenchmarkSettle is the sender's settle path for a job of 1 or 100
// tokens the provider accepted: per-token feedback events and metrics, the
// feedback published to PUSH_FEEDBACK and every PubAck awaited.
func BenchmarkSettle(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("tokens=%d", n), func(b *testing.B) {
			svc, fb := benchEnv(b, nil)
			job := benchJob(n)
			results := delivered(job)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				purgeEvery(b, i, max(50000/n, 100), fb)
				if v := svc.settle(ctx, job, 1, results); v.Action != consumer.Ack {
					b.Fatalf("verdict %+v", v)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/token")
		})
	}
}

// instant accepts every token at once: the sender's own cost, no provider.
type instant struct{}

func (instant) Send(_ context.Context, job *events.Job) []provider.Result { return delivered(job) }

// jobMsg is the part of a delivered job the service reads.
type jobMsg struct {
	jetstream.Msg
	data []byte
}

func (m jobMsg) Data() []byte { return m.data }
func (m jobMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{Timestamp: time.Now(), NumDelivered: 1}, nil
}

// BenchmarkHandle is one job through the sender service with a provider
// that answers at once: decode, checks, the provider call, settle.
func BenchmarkHandle(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("tokens=%d", n), func(b *testing.B) {
			svc, fb := benchEnv(b, instant{})
			raw, err := json.Marshal(benchJob(n))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				purgeEvery(b, i, max(50000/n, 100), fb)
				if v := svc.Handle(ctx, jobMsg{data: raw}); v.Action != consumer.Ack {
					b.Fatalf("verdict %+v", v)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/token")
		})
	}
}
