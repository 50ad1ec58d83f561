package feedback_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/feedback"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/puback"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// BenchmarkMsgID is the id of one final outcome, computed for every
// final event a sender or the dispatcher publishes (BatchMsgID hashes
// them).
func BenchmarkMsgID(b *testing.B) {
	f := events.Feedback{App: "bench", IntentID: "intent-4711", JobID: "job-4711-apns-0", Platform: events.APNs,
		Token: "0000000000000000000000000000000000000000000000000000000000000001", Outcome: events.Delivered}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if feedback.MsgID(&f) == "" {
			b.Fatal("no id")
		}
	}
}

// benchEvents is one settled job's feedback: n delivered APNs tokens.
func benchEvents(n int) []events.Feedback {
	fbs := make([]events.Feedback, n)
	at := time.Now().UTC()
	for i := range fbs {
		fbs[i] = events.Feedback{App: "bench", Platform: events.APNs, Outcome: events.Delivered,
			Token: fmt.Sprintf("%064x", i), IntentID: "intent-4711", JobID: "job-4711-apns-0", At: at}
	}
	return fbs
}

// BenchmarkPublish stores one job's feedback, 1 and 100 events, through a
// Publisher on an in-process server (memory storage): what a sender pays
// per settled job. Each round is a new job, so the stream's dedup never
// drops one.
func BenchmarkPublish(b *testing.B) {
	publish := func(p *feedback.Publisher) func(context.Context, []events.Feedback) error { return p.Publish }
	benchPublish(b, publish)
}

// BenchmarkPublishPerEvent is the baseline: one single-form message per
// event, as this package published before the batch form.
func BenchmarkPublishPerEvent(b *testing.B) {
	benchPublish(b, func(p *feedback.Publisher) func(context.Context, []events.Feedback) error { return nil })
}

func benchPublish(b *testing.B, publisher func(*feedback.Publisher) func(context.Context, []events.Feedback) error) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			_, js := natstest.Connect(b, natstest.RunServer(b))
			ctx := context.Background()
			if err := streams.Provision(ctx, js, streams.Config{Storage: jetstream.MemoryStorage}); err != nil {
				b.Fatal(err)
			}
			publish := publisher(feedback.NewPublisher(js))
			if publish == nil {
				publish = func(ctx context.Context, fbs []events.Feedback) error { return publishPerEvent(ctx, js, fbs) }
			}
			fbs := benchEvents(n)
			jobs := make([]string, b.N)
			for i := range jobs {
				jobs[i] = fmt.Sprintf("job-%d", i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range fbs {
					fbs[j].JobID = jobs[i]
				}
				if err := publish(ctx, fbs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func publishPerEvent(ctx context.Context, js jetstream.JetStream, fbs []events.Feedback) error {
	futures := make([]jetstream.PubAckFuture, 0, len(fbs))
	for i := range fbs {
		data, err := json.Marshal(&fbs[i])
		if err != nil {
			return err
		}
		msg := &nats.Msg{Subject: events.FeedbackSubject(fbs[i].Platform, fbs[i].App), Data: data}
		f, err := js.PublishMsgAsync(msg, jetstream.WithMsgID(feedback.MsgID(&fbs[i])))
		if err != nil {
			return err
		}
		futures = append(futures, f)
	}
	return puback.WaitAll(ctx, futures)
}

// BenchmarkEncode is the batch encoding alone: 100 events, as a sender
// settles a 100-token job.
func BenchmarkEncode(b *testing.B) {
	fbs := benchEvents(100)
	buf := make([]byte, 0, 64<<10)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var err error
		if buf, err = events.AppendFeedbackBatch(buf[:0], fbs); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}
