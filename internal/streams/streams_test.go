package streams_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

func provisioned(t *testing.T) jetstream.JetStream {
	t.Helper()
	_, js := natstest.Connect(t, natstest.RunServer(t))
	if err := streams.Provision(context.Background(), js, streams.Config{}); err != nil {
		t.Fatalf("provision: %v", err)
	}
	return js
}

func TestProvisionIsIdempotentAndApplied(t *testing.T) {
	t.Parallel()
	js := provisioned(t)
	ctx := context.Background()
	if err := streams.Provision(ctx, js, streams.Config{}); err != nil {
		t.Fatalf("second provision: %v", err)
	}
	for _, want := range streams.StreamConfigs(streams.Config{}) {
		s, err := js.Stream(ctx, want.Name)
		if err != nil {
			t.Fatalf("%s: %v", want.Name, err)
		}
		if err := streams.CheckApplied(want, s.CachedInfo().Config); err != nil {
			t.Error(err)
		}
		if want.Description == "" {
			t.Errorf("%s has no description (nats stream ls shows it)", want.Name)
		}
	}
	if _, err := js.KeyValue(ctx, events.TokensBucket); err != nil {
		t.Errorf("bind %s: %v", events.TokensBucket, err)
	}
	if _, err := js.KeyValue(ctx, events.IntentIDsBucket); err != nil {
		t.Errorf("bind %s: %v", events.IntentIDsBucket, err)
	}
}

// Work streams must never let a publisher's header delete other messages,
// nor drop accepted work by age.
func TestWorkStreamsRefuseRollupsAndKeepEverything(t *testing.T) {
	t.Parallel()
	for _, sc := range streams.StreamConfigs(streams.Config{}) {
		owned := sc.Name == events.StreamSchedules || sc.AllowMsgSchedules
		if !owned && sc.AllowRollup {
			t.Errorf("%s allows roll-ups", sc.Name)
		}
		if sc.Retention == jetstream.WorkQueuePolicy {
			if sc.MaxAge != 0 {
				t.Errorf("%s drops work by age (%v)", sc.Name, sc.MaxAge)
			}
			if !sc.AllowMsgSchedules && sc.Discard != jetstream.DiscardNew {
				t.Errorf("%s discards old work when full", sc.Name)
			}
			if sc.AllowMsgTTL {
				t.Errorf("%s allows per-message TTLs", sc.Name)
			}
		}
	}
	js := provisioned(t)
	ctx := context.Background()
	subjects := []string{
		events.IntentSubject("demo"),
		events.SendSubject(events.APNs, "demo"),
		events.FeedbackSubject(events.APNs, "demo"),
		events.DeadSubject(events.StageIntents, "demo"),
		"$KV." + events.TokensBucket + ".victim",
		"$KV." + events.IntentIDsBucket + ".victim",
	}
	for _, subj := range subjects {
		for _, rollup := range []string{"all", "sub"} {
			t.Run(subj+"/"+rollup, func(t *testing.T) {
				if _, err := js.Publish(ctx, subj, []byte(`{}`)); err != nil {
					t.Fatalf("plain publish: %v", err)
				}
				stream, err := js.StreamNameBySubject(ctx, subj)
				if err != nil {
					t.Fatal(err)
				}
				before := natstest.StreamMsgs(t, js, stream)
				m := nats.NewMsg(subj)
				m.Data = []byte(`{}`)
				m.Header.Set("Nats-Rollup", rollup)
				if _, err := js.PublishMsg(ctx, m); err == nil {
					t.Errorf("roll-up %s on %s accepted", rollup, subj)
				}
				if after := natstest.StreamMsgs(t, js, stream); after != before {
					t.Errorf("%s: %d messages before the roll-up, %d after", stream, before, after)
				}
			})
		}
	}
}

func TestWorkStreamsRefuseSchedulesAndTTLs(t *testing.T) {
	t.Parallel()
	js := provisioned(t)
	ctx := context.Background()
	for _, subj := range []string{events.IntentSubject("demo"), events.SendSubject(events.FCM, "demo")} {
		m := nats.NewMsg(subj)
		m.Data = []byte(`{}`)
		m.Header.Set("Nats-Schedule", "@every 1s")
		m.Header.Set("Nats-Schedule-Target", subj+"x")
		if _, err := js.PublishMsg(ctx, m); err == nil {
			t.Errorf("repeating schedule on %s accepted", subj)
		}
		if _, err := js.Publish(ctx, subj, []byte(`{}`), jetstream.WithMsgTTL(time.Second)); err == nil {
			t.Errorf("per-message TTL on %s accepted", subj)
		}
	}
}

// A full work stream refuses the publish: the producer is told, and nothing
// already accepted is dropped.
func TestFullWorkStreamRefusesNewWork(t *testing.T) {
	t.Parallel()
	js := provisioned(t)
	ctx := context.Background()
	s, err := js.Stream(ctx, events.StreamIntents)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.MaxMsgs = 5 // what an admin might set
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	refused := 0
	for i := range 8 {
		if _, err := js.Publish(ctx, events.IntentSubject("demo"), fmt.Appendf(nil, `{"n":%d}`, i)); err != nil {
			refused++
		}
	}
	if refused != 3 {
		t.Errorf("%d publishes refused, want 3", refused)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.FirstSeq != 1 || info.State.Msgs != 5 {
		t.Errorf("stream holds seq %d.. (%d msgs): accepted work was dropped", info.State.FirstSeq, info.State.Msgs)
	}
}

// A server that silently drops a setting (nats-server 2.11 and schedules) is
// refused with a clear error.
func TestCheckAppliedNamesDroppedSettings(t *testing.T) {
	t.Parallel()
	for _, want := range streams.StreamConfigs(streams.Config{}) {
		if !want.AllowMsgSchedules {
			continue
		}
		got := want
		got.AllowMsgSchedules = false
		err := streams.CheckApplied(want, got)
		if !errors.Is(err, streams.ErrServerUnsupported) {
			t.Errorf("%s: err = %v, want ErrServerUnsupported", want.Name, err)
		}
	}
}

// Streams of earlier releases allowed schedules (and so roll-ups) on
// PUSH_INTENTS; a server refuses to turn that off, so an empty one is
// re-created and a non-empty one is refused with a way out.
func TestProvisionMigratesStreamsThatAllowedSchedules(t *testing.T) {
	t.Parallel()
	for _, msgs := range []int{0, 2} {
		t.Run(fmt.Sprint(msgs, " messages"), func(t *testing.T) {
			_, js := natstest.Connect(t, natstest.RunServer(t))
			ctx := context.Background()
			old := jetstream.StreamConfig{Name: events.StreamIntents, Subjects: []string{"push.intents.>", "push.schedules.>"},
				Retention: jetstream.WorkQueuePolicy, AllowMsgSchedules: true, AllowMsgTTL: true, MaxAge: 24 * time.Hour}
			if _, err := js.CreateStream(ctx, old); err != nil {
				t.Fatal(err)
			}
			for range msgs {
				if _, err := js.Publish(ctx, "push.intents.demo", []byte(`{}`)); err != nil {
					t.Fatal(err)
				}
			}
			err := streams.Provision(ctx, js, streams.Config{})
			if msgs > 0 {
				if err == nil {
					t.Fatal("a stream still holding work was re-created")
				}
				if n := msgs; n != int(natstest.StreamMsgs(t, js, events.StreamIntents)) {
					t.Errorf("work lost: %d messages left", natstest.StreamMsgs(t, js, events.StreamIntents))
				}
				return
			}
			if err != nil {
				t.Fatalf("provision over an empty old stream: %v", err)
			}
			s, _ := js.Stream(ctx, events.StreamIntents)
			if s.CachedInfo().Config.AllowRollup {
				t.Error("PUSH_INTENTS still allows roll-ups")
			}
		})
	}
}
