package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pushfleet/pushfleet/internal/confirm"
	"github.com/pushfleet/pushfleet/internal/confirmstate"
	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// startConfirm runs the confirmation service's PUSH_CONFIRM and
// PUSH_FEEDBACK consumers until the test ends.
func (e *env) startConfirm(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	kv, err := e.js.KeyValue(ctx, events.ConfirmBucket)
	if err != nil {
		t.Fatal(err)
	}
	watches, err := e.js.Stream(ctx, events.StreamConfirm)
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	svc, err := confirm.New(confirm.Config{NotDeliveredRetry: 50 * time.Millisecond}, e.js, kv, watches, metrics.NewConfirm(m))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 2)
	for _, stream := range []string{events.StreamConfirm, events.StreamFeedback} {
		r, err := consumer.New(e.js, consumer.Config{Stream: stream, Durable: events.DurableConfirm, Stage: events.StageConfirm}, svc, m)
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = r.Run(ctx); done <- struct{}{} }()
	}
	t.Cleanup(func() { cancel(); <-done; <-done })
}

// pushctl status shows an intent's confirmation state, token by token,
// and pushctl confirm confirms one of its tokens; an intent that never
// asked for confirmation is not found (exit 3).
func TestStatusAndConfirm(t *testing.T) {
	e := setup(t)
	e.startConfirm(t)
	ctx := context.Background()
	// What the dispatcher records before it dispatches, then a delivered
	// outcome from a sender.
	in := &events.Intent{ID: "order-9", App: "demo", Notification: events.Notification{Title: "t"},
		Targets: events.Targets{Tokens: []events.Target{{Platform: events.APNs, Token: "aa01"}, {Platform: events.APNs, Token: "bb02"}}},
		Confirm: &events.Confirm{Within: events.Duration(time.Hour), ResendEvery: events.Duration(10 * time.Minute)}}
	body, _ := json.Marshal(in)
	if _, err := e.js.Publish(ctx, events.ConfirmWatchSubject("demo", in.ID), body); err != nil {
		t.Fatal(err)
	}
	fb, _ := json.Marshal(events.Feedback{App: "demo", Platform: events.APNs, Token: "aa01", Outcome: events.Delivered,
		IntentID: in.ID, At: time.Now().UTC()})
	if _, err := e.js.PublishMsg(ctx, &nats.Msg{Subject: events.FeedbackSubject(events.APNs, "demo"), Data: fb}); err != nil {
		t.Fatal(err)
	}
	status := func() map[string]string {
		out, err := e.run(t, "", "status", "--app", "demo", "-o", "json", "order-9")
		if err != nil {
			return nil
		}
		var st confirmstate.Status
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("status -o json: %v\n%s", err, out)
		}
		states := map[string]string{}
		for _, ts := range st.Tokens {
			states[ts.Token] = ts.State
		}
		return states
	}
	natstest.Eventually(t, 10*time.Second, func() bool { return status()["aa01"] == confirmstate.StatePendingResend },
		"aa01 delivered, pending re-send")
	if got := status()["bb02"]; got != confirmstate.StateSent {
		t.Fatalf("bb02 is %q, want sent (no outcome yet)", got)
	}
	out, err := e.run(t, "", "confirm", "--app", "demo", "order-9", "aa01")
	if err != nil {
		t.Fatalf("confirm: %v\n%s", err, out)
	}
	natstest.Eventually(t, 10*time.Second, func() bool { return status()["aa01"] == string(events.Confirmed) }, "aa01 confirmed")
	out, err = e.run(t, "", "status", "--app", "demo", "order-9")
	if err != nil || !strings.Contains(out, "confirmation window open") || !strings.Contains(out, "next re-send") ||
		!strings.Contains(out, "aa01") || !strings.Contains(out, "confirmed") {
		t.Fatalf("status text: %v\n%s", err, out)
	}

	out, err = e.run(t, "", "status", "--app", "demo", "never-confirmed")
	if exitCode(err) != exitNotFound || !strings.Contains(out+err.Error(), "only intents with confirm") {
		t.Fatalf("status of an untracked intent: exit %d, %v", exitCode(err), err)
	}
	_, err = e.run(t, "", "confirm", "--app", "demo", "order-9", "bad,token")
	if exitCode(err) != exitUsage || !errors.Is(err, events.ErrInvalidConfirmation) {
		t.Fatalf("confirm with a bad token: exit %d, %v", exitCode(err), err)
	}
}
