package tokens_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/dispatch"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// The real dispatcher, given the Registry and the Cache, turns a tag intent
// into jobs for exactly the valid devices and reports the invalid one as
// suppressed.
func TestDispatcherResolvesTagThroughRegistry(t *testing.T) {
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv)
	ctx := ctxT(t)
	if err := streams.Provision(ctx, js, streams.Config{Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, events.TokensBucket)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{js: js, kv: kv, reg: tokens.NewRegistry(js, kv)}
	for i := range 3 {
		register(t, e.reg, tokens.Device{Platform: events.FCM, Token: fmt.Sprint("f:", i), Tags: []string{"news"}})
	}
	register(t, e.reg, tokens.Device{Platform: events.APNs, Token: "aa01", Tags: []string{"news"}})
	register(t, e.reg, tokens.Device{Platform: events.APNs, Token: "aa02", Tags: []string{"other"}})
	if _, err := e.reg.Store().Apply(ctx, &events.Feedback{App: app, Platform: events.FCM, Token: "f:1",
		Outcome: events.InvalidToken, At: time.Now().Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	cache := e.runCache(t)
	natstest.Eventually(t, 2*time.Second, func() bool { return cache.Suppressed(app, events.FCM, "f:1") }, "suppressed")

	d, err := dispatch.New(dispatch.Config{}, js, metrics.New(), e.reg, cache)
	if err != nil {
		t.Fatal(err)
	}
	in := &events.Intent{ID: "tag-1", App: app, Targets: events.Targets{Tag: "news"},
		Notification: events.Notification{Title: "hello"}}
	if _, err := events.NewPublisher(js).Publish(ctx, in); err != nil {
		t.Fatal(err)
	}
	if v := d.Handle(ctx, nextMsg(t, ctx, js, events.StreamIntents)); v.Action != consumer.Ack {
		t.Fatalf("dispatch verdict %+v", v)
	}
	jobTokens := func(stream string) []string {
		var job events.Job
		if err := json.Unmarshal(nextMsg(t, ctx, js, stream).Data(), &job); err != nil {
			t.Fatal(err)
		}
		return slices.Sorted(slices.Values(job.Tokens))
	}
	if got := jobTokens(events.SendStream(events.FCM)); !slices.Equal(got, []string{"f:0", "f:2"}) {
		t.Errorf("fcm job tokens %v", got)
	}
	if got := jobTokens(events.SendStream(events.APNs)); !slices.Equal(got, []string{"aa01"}) {
		t.Errorf("apns job tokens %v", got)
	}
	var fb events.Feedback
	if err := json.Unmarshal(nextMsg(t, ctx, js, events.StreamFeedback).Data(), &fb); err != nil {
		t.Fatal(err)
	}
	if fb.Outcome != events.Suppressed || fb.Token != "f:1" {
		t.Errorf("feedback %+v, want f:1 suppressed", fb)
	}
}

func nextMsg(t *testing.T, ctx context.Context, js jetstream.JetStream, stream string) jetstream.Msg {
	t.Helper()
	cons, err := js.CreateConsumer(ctx, stream, jetstream.ConsumerConfig{AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatalf("%s: %v", stream, err)
	}
	return msg
}
