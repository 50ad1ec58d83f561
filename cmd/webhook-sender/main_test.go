package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/pkg/channel/webhook/webhooktest"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

// startSender runs the webhook-sender against srv for rcv until the test
// ends (it must then return nil: a clean drain).
func startSender(t *testing.T, ctx context.Context, url string, rcv *webhooktest.Receiver, secret []byte) {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	secretFile := write("secret", secret)
	appsFile := write("apps.yaml", fmt.Appendf(nil, "apps:\n  shop:\n    webhook: {url: %q, secret_file: %q}\n", rcv.URL, secretFile))
	caFile := write("ca.pem", rcv.CAPEM)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- run(runCtx, []string{"--nats-url", url, "--http-addr", "127.0.0.1:0", "--log-level", "warn",
			"--apps-file", appsFile, "--apps-reload", "0", "--webhook-ca-file", caFile}, func(string) string { return "" })
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("webhook-sender: %v", err)
		}
	})
}

// A producer streams 2,500 webhook tokens through a Session (3 intents);
// the dispatcher (in this process, where "webhook" is declared) batches
// them into jobs on PUSH_SEND_WEBHOOK; the webhook-sender POSTs each token
// once, signed. Part 5 and part 6 together.
func TestStreamedSendThroughDispatcherToWebhooks(t *testing.T) {
	secret := []byte("0123456789abcdef-stream-webhooks")
	rcv := webhooktest.New(t, secret)
	srv := natstest.RunServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	startSender(t, ctx, srv.ClientURL(), rcv, secret)
	dctx, dstop := context.WithCancel(ctx)
	ddone := make(chan error, 1)
	go func() {
		ddone <- fleet.RunCommand(dctx, "dispatcher", "test dispatcher", []string{"--nats-url", srv.ClientURL(),
			"--http-addr", "127.0.0.1:0", "--log-level", "warn"}, func(string) string { return "" }, os.Stderr, fleet.DispatcherCommand)
	}()
	t.Cleanup(func() {
		dstop()
		if err := <-ddone; err != nil {
			t.Errorf("dispatcher: %v", err)
		}
	})
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	natstest.Eventually(t, 20*time.Second, func() bool {
		_, err1 := js.Consumer(ctx, "PUSH_SEND_WEBHOOK", "webhook-sender")
		_, err2 := js.Consumer(ctx, events.StreamIntents, events.DurableDispatcher)
		return err1 == nil && err2 == nil
	}, "the sender's and the dispatcher's consumers")

	const n = 2500
	tokens := func(yield func(events.Target, error) bool) {
		for i := range n {
			if !yield(events.Target{Platform: "webhook", Token: fmt.Sprintf("subscriber-%d", i)}, nil) {
				return
			}
		}
	}
	sum, err := events.NewPublisher(js).Stream(ctx, "shop", events.Notification{Title: "Sale", Body: "today"},
		events.SessionOptions{IDPrefix: "sale"}, tokens)
	if err != nil || sum.Intents != 3 || sum.Tokens != n {
		t.Fatalf("session %+v: %v", sum, err)
	}
	waitCtx, waitCancel := context.WithTimeout(ctx, 60*time.Second)
	defer waitCancel()
	if err := rcv.Wait(waitCtx, n); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // no late duplicate
	for i := range n {
		if d := rcv.Delivered(fmt.Sprintf("subscriber-%d", i)); d != 1 {
			t.Fatalf("subscriber-%d got %d deliveries, want 1", i, d)
		}
	}
	if len(rcv.Rejected()) != 0 {
		t.Fatalf("rejected %v", rcv.Rejected())
	}
}

// The binary end to end: it provisions PUSH_SEND_WEBHOOK, consumes a job
// published where the dispatcher publishes, POSTs each token signed to the
// app's URL, reports every answer as feedback (delivered, invalid_token
// for a 410), re-queues a 429 and delivers it after its Retry-After, acks
// only then, and drains on shutdown.
func TestWebhookSenderEndToEnd(t *testing.T) {
	secret := []byte("0123456789abcdef-end-to-end")
	rcv := webhooktest.New(t, secret)
	srv := natstest.RunServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	startSender(t, ctx, srv.ClientURL(), rcv, secret)

	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	natstest.Eventually(t, 20*time.Second, func() bool {
		c, err := js.Consumer(ctx, "PUSH_SEND_WEBHOOK", "webhook-sender")
		return err == nil && c != nil
	}, "the webhook-sender's consumer on PUSH_SEND_WEBHOOK")

	rcv.SetDead("gone")
	rcv.FailNext(1, providertest.RateLimited, time.Second)
	job := events.Job{ID: "i1.webhook.0.x", IntentID: "i1", App: "shop", Platform: "webhook",
		Tokens: []string{"sub-1", "gone", "sub-2"}, Notification: events.Notification{Title: "Hi", Body: "there"},
		CreatedAt: time.Now()}
	body, _ := json.Marshal(job)
	if _, err := js.Publish(ctx, events.SendSubject("webhook", "shop"), body,
		jetstream.WithMsgID(events.JobMsgID("shop", job.ID))); err != nil {
		t.Fatal(err)
	}
	waitCtx, waitCancel := context.WithTimeout(ctx, 20*time.Second)
	defer waitCancel()
	if err := rcv.Wait(waitCtx, 2); err != nil {
		t.Fatal(err)
	}

	// Feedback: a final outcome per token (the 429'd token first reported
	// failed, then answered after its wait).
	outcomes := map[string]events.Outcome{}
	final := func() int {
		n := 0
		for _, o := range outcomes {
			if o == events.Delivered || o == events.InvalidToken {
				n++
			}
		}
		return n
	}
	failed := 0
	fb, err := js.OrderedConsumer(ctx, events.StreamFeedback, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for final() < 3 {
		m, err := fb.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("feedback so far %v: %v", outcomes, err)
		}
		fbs, err := events.DecodeFeedbackEvents(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fbs {
			if f.Platform != "webhook" || f.App != "shop" || m.Subject() != events.FeedbackSubject("webhook", "shop") {
				t.Fatalf("feedback %+v on %s", f, m.Subject())
			}
			if f.Outcome == events.Failed {
				failed++
			}
			outcomes[f.Token] = f.Outcome
		}
	}
	if failed != 1 {
		t.Fatalf("%d failed (retried) outcomes, want 1 for the 429", failed)
	}
	want := map[string]events.Outcome{"sub-1": events.Delivered, "sub-2": events.Delivered, "gone": events.InvalidToken}
	if fmt.Sprint(outcomes) != fmt.Sprint(want) {
		t.Fatalf("outcomes %v, want %v", outcomes, want)
	}
	if n := rcv.Delivered("sub-1") + rcv.Delivered("sub-2"); n != 2 || len(rcv.Rejected()) != 0 {
		t.Fatalf("%d deliveries, rejected %v", n, rcv.Rejected())
	}
	// Acked: the work queue is empty once every token has its answer.
	natstest.Eventually(t, 10*time.Second, func() bool {
		s, err := js.Stream(ctx, "PUSH_SEND_WEBHOOK")
		if err != nil {
			return false
		}
		info, err := s.Info(ctx)
		return err == nil && info.State.Msgs == 0
	}, "PUSH_SEND_WEBHOOK drained")
	if dl, err := js.Stream(ctx, events.StreamDead); err == nil {
		if info, _ := dl.Info(ctx); info != nil && info.State.Msgs != 0 {
			t.Fatalf("%d dead letters", info.State.Msgs)
		}
	}
}
