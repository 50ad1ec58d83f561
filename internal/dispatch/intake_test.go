package dispatch_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/dispatch"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// The subject is the authority: an intent whose body names another app than
// its subject, or whose subject names no valid app, is dead-lettered.
func TestSubjectAndBodyMustAgree(t *testing.T) {
	tests := []struct {
		name, subject string
		wantApp       string
		want          string
	}{
		{"body app differs", events.IntentSubject("other"), "other", `app "demo" in the body does not match subject app "other"`},
		{"due body app differs", events.DueSubject("other"), "other", `app "demo" in the body does not match subject app "other"`},
		{"subject app not a name", events.IntentsRoot + ".demo.x", "", "is not push.intents.<app>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			d := h.dispatcher(t, dispatch.Config{}, nil)
			body, _ := json.Marshal(intent("i1", "demo", tokens(events.FCM, "f1")...))
			v := d.Handle(h.ctx, msg{data: body, subject: tc.subject})
			if v.Action != consumer.Dead || v.App != tc.wantApp || !strings.Contains(v.Reason, tc.want) {
				t.Fatalf("verdict %+v, want a dead letter for app %q with %q", v, tc.wantApp, tc.want)
			}
			if jobs := jobsOn(t, h.js, events.FCM); len(jobs) != 0 {
				t.Fatalf("sent as %s: %d jobs", jobs[0].App, len(jobs))
			}
		})
	}
}

// With known apps set, another app's intent is dead-lettered at intake, and
// counted under one fixed label instead of minting a series of its own.
func TestUnknownAppIsDeadLetteredAtIntake(t *testing.T) {
	h := newHarness(t)
	d := h.dispatcher(t, dispatch.Config{Apps: []string{"shop"}}, nil)
	h.publish(t, "intruder", intent("i1", "intruder", tokens(events.FCM, "f1")...))
	v := h.handleNext(t, d, false, 5*time.Second)
	if v.Action != consumer.Dead || v.Category != "unknown_app" || !strings.Contains(v.Reason, `unknown app "intruder"`) {
		t.Fatalf("verdict %+v, want an unknown-app dead letter", v)
	}
	if jobs := jobsOn(t, h.js, events.FCM); len(jobs) != 0 {
		t.Fatalf("unknown app dispatched %d jobs", len(jobs))
	}
	if h.count(metrics.AppOther, "unknown_app") != 1 {
		t.Errorf("intents_total{app=%s,result=unknown_app} = %v", metrics.AppOther, h.count(metrics.AppOther, "unknown_app"))
	}
	if h.m.Intents.DeleteLabelValues("intruder", "unknown_app") {
		t.Error("the unknown app got a series of its own")
	}
	h.publish(t, "shop", intent("i2", "shop", tokens(events.FCM, "f1")...))
	if v := h.handleNext(t, d, false, 5*time.Second); v.Action != consumer.Ack {
		t.Fatalf("known app: verdict %+v", v)
	}
}

// MiPush refuses a displayed notification without both title and body
// (65011): explicit MiPush tokens are refused at intake; an alias resolved
// to MiPush devices gets those devices dead (with a dead letter holding
// them) while its other devices are sent.
func TestMiPushTitleOnlyIsRefusedBeforeMiPush(t *testing.T) {
	h := newHarness(t)
	aud := staticAudience(append(tokens(events.Mi, "m1", "m2"), tokens(events.APNs, "ab01")...))
	d := h.dispatcher(t, dispatch.Config{}, aud)

	explicit := intent("t1", "shop", tokens(events.Mi, "m1")...)
	explicit.Notification.Body = ""
	h.publish(t, "shop", explicit)
	v := h.handleNext(t, d, false, 5*time.Second)
	if v.Action != consumer.Dead || !strings.Contains(v.Reason, "notification.body") || !strings.Contains(v.Reason, "65011") {
		t.Fatalf("explicit: verdict %+v, want a dead letter naming notification.body and 65011", v)
	}

	alias := intent("t2", "shop")
	alias.Notification.Body = ""
	h.publish(t, "shop", alias)
	if v := h.handleNext(t, d, false, 5*time.Second); v.Action != consumer.Ack {
		t.Fatalf("alias: verdict %+v", v)
	}
	if jobs := jobsOn(t, h.js, events.Mi); len(jobs) != 0 {
		t.Fatalf("%d MiPush jobs sent to certain refusal", len(jobs))
	}
	if jobs := jobsOn(t, h.js, events.APNs); len(jobs) != 1 {
		t.Fatalf("%d APNs jobs, want the alias's APNs device sent", len(jobs))
	}
	dead := h.stored(t, events.StreamDead, events.DeadSubject(events.StageIntents, "shop"))
	if len(dead) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dead))
	}
	var dl events.DeadLetter
	if err := json.Unmarshal(dead[0].Data, &dl); err != nil {
		t.Fatal(err)
	}
	if strings.Join(dl.Tokens, ",") != "m1,m2" || !strings.Contains(dl.Reason, "65011") || dl.IntentID != "t2" {
		t.Fatalf("dead letter %+v", dl)
	}
	outcomes := map[string]events.Outcome{}
	for _, f := range feedbackOn(t, h) {
		outcomes[f.Token] = f.Outcome
	}
	if outcomes["m1"] != events.Dead || outcomes["m2"] != events.Dead || len(outcomes) != 2 {
		t.Fatalf("outcomes %v, want m1 and m2 dead", outcomes)
	}
}

// An intent over --max-intent-bytes (default 256 KiB, below NATS's 1 MiB
// max_payload, so it is stored and reaches the check) is dead-lettered
// with a reason naming the limit, under its subject's app.
func TestOversizeIntentIsDeadLetteredWithItsReason(t *testing.T) {
	h := newHarness(t)
	d := h.dispatcher(t, dispatch.Config{}, nil)
	in := intent("huge", "shop", tokens(events.FCM, "f1")...)
	in.Extra = map[string]json.RawMessage{"pad": json.RawMessage(`"` + strings.Repeat("x", 300<<10) + `"`)}
	h.publish(t, "shop", in)
	v := h.handleNext(t, d, false, 5*time.Second)
	if v.Action != consumer.Dead || v.App != "shop" || v.Category != "too_large" ||
		!strings.Contains(v.Reason, "exceeds the limit of 262144") || !strings.Contains(v.Reason, "--max-intent-bytes") {
		t.Fatalf("verdict %+v, want a too_large dead letter naming the limit", v)
	}
}
