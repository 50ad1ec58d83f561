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
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm/fcmfake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

func fcmToken(i int) string { return fmt.Sprintf("c%07d:APA91bXy_-Xy_-Xy_-Xy_-", i) }

func fcmJob(id string, from, n int) []byte {
	toks := make([]string, n)
	for i := range toks {
		toks[i] = fcmToken(from + i)
	}
	b, _ := json.Marshal(events.Job{ID: id, IntentID: "i-" + id, App: "shop", Platform: events.FCM, Tokens: toks,
		Notification: events.Notification{Title: "t", Body: "b"}, CreatedAt: time.Now()})
	return b
}

// FCM answers 429 QUOTA_EXCEEDED with Retry-After 2s. The sender reports
// one failed event per real 429 (one), none for the 50 tokens of the job
// handled during the hold (never sent: the old code reported each of them
// failed), re-queues everything in PUSH_RETRY_FCM, and once the hold is
// over every token is delivered exactly once, with no further failed event.
func TestFCMQuotaHoldAccounting(t *testing.T) {
	f, err := fcmfake.Start(fcmfake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	app, err := f.SandboxApp("shop", "shop-project")
	if err != nil {
		t.Fatal(err)
	}
	p, err := fcm.New(f.SenderConfig(fcm.Config{BatchTimeout: 5 * time.Second}), map[string]fcm.AppConfig{"shop": app})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	svc, js := newTestService(t, Config{Platform: events.FCM}, p)
	ctx := context.Background()

	f.FailNext(1, providertest.RateLimited, 2*time.Second)
	if v := svc.Handle(ctx, jobMsg{data: fcmJob("first", 0, 1)}); v.Action != consumer.Ack {
		t.Fatalf("first job: verdict %+v, want ack (re-queued)", v)
	}
	requests := f.SendRequests()
	if v := svc.Handle(ctx, jobMsg{data: fcmJob("held", 1, 50)}); v.Action != consumer.Ack {
		t.Fatalf("job during the hold: verdict %+v, want ack (re-queued)", v)
	}
	if n := f.SendRequests() - requests; n != 0 {
		t.Fatalf("%d requests during the hold", n)
	}
	if got := outcomes(storedFeedback(t, js)); got[events.Failed] != 1 || len(got) != 1 {
		t.Fatalf("outcomes %v, want exactly one failed event: FCM answered 429 once", got)
	}
	if n := retryMsgs(t, js, events.FCM); n != 2 {
		t.Fatalf("%d re-queued jobs, want 2", n)
	}

	// The re-queued jobs come back when due, as the sender's second
	// consumer would take them.
	cons, err := js.CreateConsumer(ctx, events.RetryStream(events.FCM), jetstream.ConsumerConfig{
		FilterSubject: events.RetryDueSubject(events.FCM, "shop"), AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	for handled := 0; handled < 2; {
		batch, err := cons.Fetch(2-handled, jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			if v := svc.Handle(ctx, m); v.Action != consumer.Ack {
				t.Fatalf("released job: verdict %+v, want ack", v)
			}
			handled++
		}
		if batch.Error() != nil {
			t.Fatal(batch.Error())
		}
	}
	got := outcomes(storedFeedback(t, js))
	if got[events.Failed] != 1 || got[events.Delivered] != 51 {
		t.Fatalf("outcomes %v, want 51 delivered and the one failed", got)
	}
	for i := range 51 {
		if n := f.Delivered(fcmToken(i)); n != 1 {
			t.Fatalf("token %d delivered %d times, want 1", i, n)
		}
	}
}
