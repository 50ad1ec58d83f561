package dispatch_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/dispatch"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// The same id in the same app, published again inside the dedup window
// after the dispatcher restarted, is delivered once: the ids taken live in
// push_intent_ids, not in the dispatcher or in the (emptied) work queue.
// A redelivery of the first message itself (a retry after a failed
// publish, or a crash before the ack) is not taken for a repeat.
func TestDedupSurvivesARestart(t *testing.T) {
	h := newHarness(t)
	first := h.dispatcher(t, dispatch.Config{}, nil)
	h.publish(t, "shop", intent("x", "shop", tokens(events.FCM, "f1")...))
	cons, err := h.js.CreateOrUpdateConsumer(h.ctx, events.StreamIntents, jetstreamConsumer())
	if err != nil {
		t.Fatal(err)
	}
	m, err := cons.Next(jetstream.FetchContext(h.ctx))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if v := first.Handle(h.ctx, m); v.Action != consumer.Ack {
			t.Fatalf("delivery %d: verdict %+v", i+1, v)
		}
	}
	if err := m.DoubleAck(h.ctx); err != nil {
		t.Fatal(err)
	}
	if h.count("shop", "duplicate") != 0 || h.count("shop", "dispatched") != 2 {
		t.Fatalf("redelivery: duplicate=%v dispatched=%v, want 0 and 2", h.count("shop", "duplicate"), h.count("shop", "dispatched"))
	}

	restarted := h.dispatcher(t, dispatch.Config{}, nil)
	h.publish(t, "shop", intent("x", "shop", tokens(events.FCM, "f2")...))
	if v := h.handleNext(t, restarted, false, 5*time.Second); v.Action != consumer.Ack {
		t.Fatalf("repeat: verdict %+v, want it acked as a duplicate", v)
	}
	jobs := jobsOn(t, h.js, events.FCM)
	if len(jobs) != 1 || jobs[0].Tokens[0] != "f1" {
		t.Fatalf("jobs %+v, want only the first copy's", jobs)
	}
	if h.count("shop", "duplicate") != 1 {
		t.Errorf("intents_total{result=duplicate} = %v", h.count("shop", "duplicate"))
	}
	if fbs := feedbackOn(t, h); len(fbs) != 0 {
		t.Errorf("a duplicate produced feedback %+v", fbs)
	}
}

// Ids are per app: app shop's intent x never swallows app demo's x, even
// with the same tokens (job ids are app-scoped too).
func TestSameIDInTwoAppsIsDispatchedForBoth(t *testing.T) {
	h := newHarness(t)
	d := h.dispatcher(t, dispatch.Config{}, nil)
	pub := events.NewPublisher(h.js)
	for _, app := range []string{"shop", "demo"} {
		if _, err := pub.Publish(h.ctx, intent("x", app, tokens(events.FCM, "f1")...)); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if v := h.handleNext(t, d, false, 5*time.Second); v.Action != consumer.Ack {
			t.Fatalf("verdict %+v", v)
		}
	}
	apps := map[string]bool{}
	for _, j := range jobsOn(t, h.js, events.FCM) {
		apps[j.App] = true
	}
	if !apps["shop"] || !apps["demo"] {
		t.Fatalf("jobs for apps %v, want shop and demo", apps)
	}
	if h.count("shop", "duplicate")+h.count("demo", "duplicate") != 0 {
		t.Fatal("one app's id was taken for the other's")
	}
}
