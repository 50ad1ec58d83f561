package tokens_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
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
	e := &env{js: js, kv: kv, reg: tokens.NewDevices(js, kv)}
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
	if got := jobTokens(t, ctx, js, events.SendStream(events.FCM)); !slices.Equal(got, []string{"f:0", "f:2"}) {
		t.Errorf("fcm job tokens %v", got)
	}
	if got := jobTokens(t, ctx, js, events.SendStream(events.APNs)); !slices.Equal(got, []string{"aa01"}) {
		t.Errorf("apns job tokens %v", got)
	}
	fbs, err := events.DecodeFeedbackEvents(nextMsg(t, ctx, js, events.StreamFeedback).Data())
	if err != nil || len(fbs) != 1 {
		t.Fatalf("feedback %v: %v", fbs, err)
	}
	fb := fbs[0]
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

// Push to all with a platform filter, through the real dispatcher: every
// registered APNs and FCM device of the app gets a job, MiPush devices and
// other apps' devices none, and the invalid device is suppressed. An MiPush
// filter on a title-only push is dead-lettered at intake, with the reason.
func TestDispatcherPushesToAllWithPlatformFilter(t *testing.T) {
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
	e := &env{js: js, kv: kv, reg: tokens.NewDevices(js, kv)}
	for i := range 3 {
		register(t, e.reg, tokens.Device{Platform: events.FCM, Token: fmt.Sprint("f:", i)})
	}
	register(t, e.reg, tokens.Device{Platform: events.APNs, Token: "aa01", Alias: "u1"})
	register(t, e.reg, tokens.Device{Platform: events.Mi, Token: "mi01", Alias: "u1"})
	register(t, e.reg, tokens.Device{App: "other", Platform: events.FCM, Token: "f:other"})
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
	in := &events.Intent{ID: "all-1", App: app,
		Targets:      events.Targets{All: true, Platforms: []events.Platform{events.APNs, events.FCM}},
		Notification: events.Notification{Title: "hello"}}
	if _, err := events.NewPublisher(js).Publish(ctx, in); err != nil {
		t.Fatal(err)
	}
	if v := d.Handle(ctx, nextIntent(t, ctx, js)); v.Action != consumer.Ack {
		t.Fatalf("dispatch verdict %+v", v)
	}
	if got := jobTokens(t, ctx, js, events.SendStream(events.FCM)); !slices.Equal(got, []string{"f:0", "f:2"}) {
		t.Errorf("fcm job tokens %v", got)
	}
	if got := jobTokens(t, ctx, js, events.SendStream(events.APNs)); !slices.Equal(got, []string{"aa01"}) {
		t.Errorf("apns job tokens %v", got)
	}
	s, err := js.Stream(ctx, events.SendStream(events.Mi))
	if err != nil {
		t.Fatal(err)
	}
	if info, err := s.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Errorf("mi stream holds %d jobs (%v), want none: mi is filtered out", info.State.Msgs, err)
	}
	fbs, err := events.DecodeFeedbackEvents(nextMsg(t, ctx, js, events.StreamFeedback).Data())
	if err != nil || len(fbs) != 1 {
		t.Fatalf("feedback %v: %v", fbs, err)
	}
	fb := fbs[0]
	if fb.Outcome != events.Suppressed || fb.Token != "f:1" {
		t.Errorf("feedback %+v, want f:1 suppressed", fb)
	}

	// MiPush refuses a title-only notification: filtered to mi, the alias
	// intent is refused at intake instead of being resolved.
	bad := &events.Intent{ID: "mi-only", App: app,
		Targets:      events.Targets{Alias: "u1", Platforms: []events.Platform{events.Mi}},
		Notification: events.Notification{Title: "hello"}}
	body, _ := json.Marshal(bad)
	if _, err := js.Publish(ctx, events.IntentSubject(app), body); err != nil {
		t.Fatal(err)
	}
	v := d.Handle(ctx, nextIntent(t, ctx, js))
	if v.Action != consumer.Dead || !strings.Contains(v.Reason, "MiPush") {
		t.Fatalf("mi-filtered title-only intent: %+v, want a dead letter naming MiPush", v)
	}
}

// nextIntent is the next intent, through one durable consumer (the intents
// stream is a work queue: it takes one unfiltered consumer only).
func nextIntent(t *testing.T, ctx context.Context, js jetstream.JetStream) jetstream.Msg {
	t.Helper()
	cons, err := js.CreateOrUpdateConsumer(ctx, events.StreamIntents, jetstream.ConsumerConfig{
		Durable: "test-intents", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatalf("intents: %v", err)
	}
	_ = msg.Ack()
	return msg
}

// jobTokens reads the next job on stream and returns its tokens, sorted.
func jobTokens(t *testing.T, ctx context.Context, js jetstream.JetStream, stream string) []string {
	t.Helper()
	var job events.Job
	if err := json.Unmarshal(nextMsg(t, ctx, js, stream).Data(), &job); err != nil {
		t.Fatal(err)
	}
	return slices.Sorted(slices.Values(job.Tokens))
}
