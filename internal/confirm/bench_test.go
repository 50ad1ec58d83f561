package confirm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/confirm"
	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// BenchmarkFeedbackOfUnwatchedIntents is what the confirmation service
// costs the fleet's ordinary traffic: feedback messages of intents without
// confirm, one intent each (the worst case: every one is looked up once),
// followed by its PUSH_FEEDBACK consumer until it has caught up.
func BenchmarkFeedbackOfUnwatchedIntents(b *testing.B) {
	srv := natstest.RunServer(b)
	nc, _ := natstest.Connect(b, srv)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := streams.Provision(ctx, js, streams.Config{}); err != nil {
		b.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, events.ConfirmBucket)
	if err != nil {
		b.Fatal(err)
	}
	watches, err := js.Stream(ctx, events.StreamConfirm)
	if err != nil {
		b.Fatal(err)
	}
	m := metrics.New()
	svc, err := confirm.New(confirm.Config{}, js, kv, watches, metrics.NewConfirm(m))
	if err != nil {
		b.Fatal(err)
	}
	r, err := consumer.New(js, consumer.Config{Stream: events.StreamFeedback, Durable: events.DurableConfirm,
		Stage: events.StageConfirm, FilterSubjects: []string{events.FeedbackRoot + ".*.*"}}, svc, m)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	b.ResetTimer()
	for i := range b.N {
		body, _ := json.Marshal(events.Feedback{App: "shop", Platform: events.APNs, Token: fmt.Sprintf("ab%06d", i),
			Outcome: events.Delivered, IntentID: fmt.Sprintf("bench-%d", i), At: time.Now().UTC()})
		if _, err := js.PublishMsgAsync(&nats.Msg{Subject: events.FeedbackSubject(events.APNs, "shop"), Data: body}); err != nil {
			b.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
	natstest.Eventually(b, 5*time.Minute, func() bool {
		c, err := js.Consumer(ctx, events.StreamFeedback, events.DurableConfirm)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	}, "consumer caught up")
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
