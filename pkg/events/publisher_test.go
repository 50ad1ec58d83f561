package events_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

func publisherEnv(t *testing.T) (context.Context, jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	_, js := natstest.Connect(t, natstest.RunServer(t))
	if err := streams.Provision(ctx, js, streams.Config{Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	return ctx, js
}

// A send_at intent goes on push.intents.<app> like any other, with no TTL
// and no schedule header (the dispatcher schedules it), and its Nats-Msg-Id
// is scoped by app.
func TestPublishSendAtOnTheIntentSubjectWithoutTTL(t *testing.T) {
	ctx, js := publisherEnv(t)
	at := time.Now().Add(48 * time.Hour)
	exp := at.Add(time.Hour)
	in := &events.Intent{ID: "later", App: "shop", SendAt: &at,
		Targets:      events.Targets{Tokens: []events.Target{{Platform: events.FCM, Token: "f1"}}},
		Notification: events.Notification{Title: "t", Expiry: &exp}}
	if _, err := events.NewPublisher(js).Publish(ctx, in); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, events.StreamIntents)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(ctx, events.IntentSubject("shop"))
	if err != nil {
		t.Fatalf("intent not on %s: %v", events.IntentSubject("shop"), err)
	}
	for _, h := range []string{jetstream.MsgTTLHeader, jetstream.ScheduleHeader, jetstream.ScheduleTargetHeader, "Nats-Schedule-TTL"} {
		if v := m.Header.Get(h); v != "" {
			t.Errorf("header %s: %q, want none", h, v)
		}
	}
	if got := m.Header.Get(jetstream.MsgIDHeader); got != "shop:later" {
		t.Errorf("Nats-Msg-Id %q, want shop:later", got)
	}
}

// The same id in two apps is two intents; in one app it is one.
func TestPublishDedupIsPerApp(t *testing.T) {
	ctx, js := publisherEnv(t)
	p := events.NewPublisher(js)
	for i, app := range []string{"shop", "demo", "shop"} {
		in := &events.Intent{ID: "x", App: app, Targets: events.Targets{Alias: "u"}, Notification: events.Notification{Title: "t"}}
		ack, err := p.Publish(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if want := i == 2; ack.Duplicate != want {
			t.Fatalf("publish %d (%s): duplicate=%v, want %v", i, app, ack.Duplicate, want)
		}
	}
}

func TestPublishRefusesWithReasons(t *testing.T) {
	ctx, js := publisherEnv(t)
	far := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	soon := time.Now().Add(time.Hour)
	tests := []struct {
		name      string
		opts      []events.PublisherOption
		mod       func(*events.Intent)
		wantField string
	}{
		{"send_at beyond the horizon", nil, func(in *events.Intent) { in.SendAt = &far }, "send_at"},
		{"send_at beyond a given horizon", []events.PublisherOption{events.WithScheduleHorizon(time.Minute)},
			func(in *events.Intent) { in.SendAt = &soon }, "send_at"},
		{"expiry not after send_at", nil, func(in *events.Intent) {
			in.SendAt = &soon
			in.Notification.Expiry = &soon
		}, "notification.expiry"},
		{"mi title only", nil, func(in *events.Intent) {
			in.Targets = events.Targets{Tokens: []events.Target{{Platform: events.Mi, Token: "m1"}}}
		}, "notification.body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &events.Intent{ID: "r", App: "shop", Targets: events.Targets{Alias: "u"}, Notification: events.Notification{Title: "t"}}
			tc.mod(in)
			_, err := events.NewPublisher(js, tc.opts...).Publish(ctx, in)
			var ve *events.ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.wantField {
				t.Fatalf("err = %v, want a ValidationError on %s", err, tc.wantField)
			}
			if tc.wantField == "send_at" && !strings.Contains(ve.Reason, "horizon") {
				t.Fatalf("reason %q does not name the horizon", ve.Reason)
			}
		})
	}
}
