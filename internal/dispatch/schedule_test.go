package dispatch_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/dispatch"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// A send_at two days ahead (past the 24h max age that used to delete it) is
// held as a one-shot schedule in PUSH_SCHEDULES, which keeps it until it
// fires, and nothing is sent now.
func TestSendAtBeyond24hIsHeldInPushSchedules(t *testing.T) {
	h := newHarness(t)
	d := h.dispatcher(t, dispatch.Config{}, nil)
	in := intent("later", "shop", tokens(events.FCM, "f1")...)
	at := time.Now().Add(48*time.Hour + 300*time.Millisecond)
	in.SendAt = &at
	h.publish(t, "shop", in)
	if v := h.handleNext(t, d, false, 5*time.Second); v.Action != consumer.Ack {
		t.Fatalf("verdict %+v", v)
	}
	if jobs := jobsOn(t, h.js, events.FCM); len(jobs) != 0 {
		t.Fatalf("%d jobs published for a push due in two days", len(jobs))
	}
	scheds := h.stored(t, events.StreamSchedules, events.ScheduleSubject("shop", "later"))
	if len(scheds) != 1 {
		t.Fatalf("%d schedules stored, want 1", len(scheds))
	}
	// Rounded up to the second: never early.
	want := "@at " + at.Truncate(time.Second).Add(time.Second).UTC().Format(time.RFC3339)
	if got := scheds[0].Header.Get(jetstream.ScheduleHeader); got != want {
		t.Errorf("schedule %q, want %q", got, want)
	}
	if got := scheds[0].Header.Get(jetstream.ScheduleTargetHeader); got != events.DueSubject("shop") {
		t.Errorf("schedule target %q, want %s", got, events.DueSubject("shop"))
	}
	if ttl := scheds[0].Header.Get(jetstream.MsgTTLHeader); ttl != "" {
		t.Errorf("schedule carries a TTL %q", ttl)
	}
	s, err := h.js.Stream(h.ctx, events.StreamSchedules)
	if err != nil {
		t.Fatal(err)
	}
	if age := s.CachedInfo().Config.MaxAge; age != 0 {
		t.Errorf("PUSH_SCHEDULES max age %v would delete a schedule before it fires", age)
	}
	if n := len(h.stored(t, events.StreamIntents, events.IntentsRoot+".>")); n != 0 {
		t.Errorf("%d intents left in PUSH_INTENTS after scheduling", n)
	}
	if h.count("shop", "scheduled") != 1 {
		t.Errorf("intents_total{result=scheduled} = %v", h.count("shop", "scheduled"))
	}
}

// A send_at intent on push.intents.<app>, the subject the schema names, is
// not sent at once: it comes back on push.due.<app> when due and is then
// dispatched.
func TestSendAtOnTheIntentSubjectIsHonoured(t *testing.T) {
	h := newHarness(t)
	d := h.dispatcher(t, dispatch.Config{}, nil)
	in := intent("soon", "shop", tokens(events.APNs, "ab01")...)
	at := time.Now().Add(1500 * time.Millisecond)
	in.SendAt = &at
	h.publish(t, "shop", in)
	if v := h.handleNext(t, d, false, 5*time.Second); v.Action != consumer.Ack {
		t.Fatalf("verdict %+v", v)
	}
	if jobs := jobsOn(t, h.js, events.APNs); len(jobs) != 0 {
		t.Fatal("sent at once, before send_at")
	}
	if v := h.handleNext(t, d, true, 10*time.Second); v.Action != consumer.Ack {
		t.Fatalf("due verdict %+v", v)
	}
	if time.Now().Before(at) {
		t.Fatal("released before send_at")
	}
	jobs := jobsOn(t, h.js, events.APNs)
	if len(jobs) != 1 || jobs[0].IntentID != "soon" {
		t.Fatalf("jobs after due: %+v", jobs)
	}
	if h.count("shop", "dispatched") != 1 {
		t.Errorf("intents_total{result=dispatched} = %v", h.count("shop", "dispatched"))
	}
}

// A far send_at (after 2262, year 9999, or past a configured horizon) is
// dead-lettered at intake with a reason naming the horizon; nothing fires.
func TestFarSendAtIsDeadLetteredNamingTheHorizon(t *testing.T) {
	tests := []struct {
		name    string
		horizon time.Duration
		sendAt  time.Time
		want    string
	}{
		{"year 2300", 0, time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), "720h0m0s"},
		{"year 9999", 0, time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), "720h0m0s"},
		{"past a configured horizon", time.Hour, time.Now().Add(2 * time.Hour), "1h0m0s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			d := h.dispatcher(t, dispatch.Config{ScheduleHorizon: tc.horizon}, nil)
			in := intent("far", "shop", tokens(events.FCM, "f1")...)
			in.SendAt = &tc.sendAt
			h.publish(t, "shop", in)
			v := h.handleNext(t, d, false, 5*time.Second)
			if v.Action != consumer.Dead || v.App != "shop" || v.IntentID != "far" ||
				!strings.Contains(v.Reason, "schedule horizon") || !strings.Contains(v.Reason, tc.want) {
				t.Fatalf("verdict %+v, want a dead letter naming the horizon %s", v, tc.want)
			}
			if n := len(h.stored(t, events.StreamSchedules, events.SchedulesRoot+".>")); n != 0 {
				t.Fatalf("%d schedules stored", n)
			}
		})
	}
}

// An expiry in year 9999 is just a time: the intent is dispatched and its
// job carries no TTL (one computed from it used to overflow to 1s).
func TestYear9999ExpiryDispatches(t *testing.T) {
	h := newHarness(t)
	d := h.dispatcher(t, dispatch.Config{}, nil)
	in := intent("forever", "shop", tokens(events.APNs, "ab01")...)
	exp := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	in.Notification.Expiry = &exp
	h.publish(t, "shop", in)
	if v := h.handleNext(t, d, false, 5*time.Second); v.Action != consumer.Ack {
		t.Fatalf("verdict %+v", v)
	}
	msgs := h.stored(t, events.SendStream(events.APNs), events.SendSubject(events.APNs, "shop"))
	if len(msgs) != 1 {
		t.Fatalf("%d jobs, want 1", len(msgs))
	}
	if ttl := msgs[0].Header.Get(jetstream.MsgTTLHeader); ttl != "" {
		t.Fatalf("job carries Nats-TTL %q", ttl)
	}
}

// An alias intent that expired before dispatch is resolved, and each of
// its devices is reported expired: never silence.
func TestExpiredAliasReportsEachTokenExpired(t *testing.T) {
	h := newHarness(t)
	aud := staticAudience(append(tokens(events.FCM, "f1", "f2"), tokens(events.Mi, "m1")...))
	d := h.dispatcher(t, dispatch.Config{}, aud)
	in := intent("gone", "shop")
	exp := time.Now().Add(-time.Minute)
	in.Notification.Expiry = &exp
	h.publish(t, "shop", in)
	if v := h.handleNext(t, d, false, 5*time.Second); v.Action != consumer.Ack {
		t.Fatalf("verdict %+v", v)
	}
	got := map[string]events.Outcome{}
	for _, f := range feedbackOn(t, h) {
		got[f.Token] = f.Outcome
	}
	for _, tg := range aud {
		if got[tg.Token] != events.Expired {
			t.Errorf("token %s: outcome %q, want expired (all: %v)", tg.Token, got[tg.Token], got)
		}
	}
	if len(got) != len(aud) {
		t.Errorf("%d outcomes, want %d", len(got), len(aud))
	}
	if jobs := jobsOn(t, h.js, events.FCM); len(jobs) != 0 {
		t.Errorf("expired intent dispatched %d jobs", len(jobs))
	}
	if h.count("shop", "expired") != 1 {
		t.Errorf("intents_total{result=expired} = %v", h.count("shop", "expired"))
	}
}
