package dispatch_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/dispatch"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// A topic intent needs no registry: it becomes one job per platform whose
// tokens are the topics' keys and which carries the topics themselves; a
// redelivery doubles nothing.
func TestTopicIntentBecomesTopicJobs(t *testing.T) {
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv)
	if err := streams.Provision(context.Background(), js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	d, err := dispatch.New(dispatch.Config{}, js, metrics.New(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cond := events.Topic{Platform: events.FCM, Condition: "'a' in topics && 'b' in topics"}
	in := events.Intent{ID: "topics", App: "shop", Notification: events.Notification{Title: "t", Body: "b"},
		Targets: events.Targets{Topics: []events.Topic{
			{Platform: events.FCM, Topic: "news"}, cond, {Platform: events.Mi, Topic: "news"}, {Platform: events.Mi, All: true},
		}}}
	body, _ := json.Marshal(in)
	for range 2 {
		if v := d.Handle(context.Background(), msg{data: body}); v.Action != consumer.Ack {
			t.Fatalf("verdict %+v", v)
		}
	}
	fcm := jobsOn(t, js, events.FCM)
	if len(fcm) != 1 || !slices.Equal(fcm[0].Tokens, []string{"topic:news", cond.Key()}) || len(fcm[0].Topics) != 2 ||
		fcm[0].TopicsByKey()[cond.Key()].Condition != cond.Condition {
		t.Fatalf("fcm jobs %+v", fcm)
	}
	mi := jobsOn(t, js, events.Mi)
	if len(mi) != 1 || !slices.Equal(mi[0].Tokens, []string{"topic:news", "broadcast:all"}) || len(mi[0].Topics) != 2 {
		t.Fatalf("mi jobs %+v", mi)
	}
	for _, j := range append(fcm, mi...) {
		b, _ := json.Marshal(j)
		if _, err := events.DecodeJob(b); err != nil {
			t.Fatalf("a sender would refuse the job: %v", err)
		}
	}
	if n := len(jobsOn(t, js, events.APNs)); n != 0 {
		t.Fatalf("%d APNs jobs", n)
	}
}

// An expired topic intent reports each topic expired under its key; an
// APNs topic is dead-lettered at intake with the reason.
func TestTopicIntentExpiredAndRefused(t *testing.T) {
	h := newHarness(t)
	d := h.dispatcher(t, dispatch.Config{}, nil)
	past := time.Now().Add(-time.Minute)
	h.publish(t, "shop", events.Intent{ID: "late", App: "shop",
		Notification: events.Notification{Title: "t", Expiry: &past},
		Targets:      events.Targets{Topics: []events.Topic{{Platform: events.FCM, Topic: "news"}}}})
	if v := h.handleNext(t, d, false, 5*time.Second); v.Action != consumer.Ack {
		t.Fatalf("verdict %+v", v)
	}
	fbs := feedbackOn(t, h)
	if len(fbs) != 1 || fbs[0].Token != "topic:news" || fbs[0].Outcome != events.Expired || fbs[0].Platform != events.FCM {
		t.Fatalf("feedback %+v, want topic:news expired", fbs)
	}
	h.publishRaw(t, events.IntentSubject("shop"),
		[]byte(`{"id":"apns-topic","app":"shop","targets":{"topics":[{"platform":"apns","topic":"news"}]},"notification":{"title":"t"}}`))
	v := h.handleNext(t, d, false, 5*time.Second)
	if v.Action != consumer.Dead || !strings.Contains(v.Reason, "APNs has no topics") {
		t.Fatalf("APNs topic: %+v, want a dead letter with the reason", v)
	}
}
