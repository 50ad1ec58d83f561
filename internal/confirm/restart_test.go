package confirm_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/internal/confirmstate"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// TestStateSurvivesRestart: the server and every service stop in the
// middle of a window and start again from the same store: the watched
// intent, its delivered tokens and its timer are still there, and the
// window goes on (a confirmation, a re-send, the end).
func TestStateSurvivesRestart(t *testing.T) {
	srv := natstest.StartServer(t)
	prov := &recorder{sent: map[string][]string{}}
	h, stop := start(t, srv, prov, 1)
	h.publish(t, confirmIntent("order-2", time.Hour, 30*time.Minute, "aa01", "bb02"))
	h.waitState(t, "order-2", "bb02", confirmstate.StatePendingResend)
	h.waitState(t, "order-2", "aa01", confirmstate.StatePendingResend)
	stop()
	srv.Shutdown()
	srv.Restart(t)

	h, _ = start(t, srv, prov, 1)
	timers, err := h.js.Stream(context.Background(), events.StreamConfirmTimers)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := timers.GetLastMsgForSubject(context.Background(), events.ConfirmTimerSubject(app, "order-2")); err != nil {
		t.Fatalf("timer lost in the restart: %v", err)
	}
	h.confirm(t, "order-2", "aa01")
	h.outcomes(t, "aa01", events.Confirmed)
	h.fire(t, "order-2", 1)
	natstest.Eventually(t, 10*time.Second, func() bool { return len(prov.tokens("order-2:r1")) > 0 }, "re-send 1")
	h.fire(t, "order-2", 2)
	h.outcomes(t, "bb02", events.Unconfirmed)
	if got := prov.tokens("order-2:r1"); !equal(got, []string{"bb02"}) {
		t.Fatalf("re-sent to %v, want bb02", got)
	}
}

// TestReplicasNeverDouble: three replicas share the work; a tick and a
// confirmation each delivered several times at once (no Nats-Msg-Id, so
// the stream keeps every copy) still make one re-send and one outcome per
// token.
func TestReplicasNeverDouble(t *testing.T) {
	h := newHarness(t, 3)
	h.publish(t, confirmIntent("order-3", time.Hour, 20*time.Minute, "aa01", "bb02", "cc03"))
	for _, tk := range []string{"aa01", "bb02", "cc03"} {
		h.waitState(t, "order-3", tk, confirmstate.StatePendingResend)
	}
	copies := func(f func()) {
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(f)
		}
		wg.Wait()
	}
	copies(func() {
		if _, err := h.js.Publish(context.Background(), events.ConfirmSubject(app),
			[]byte(`{"intent_id":"order-3","token":"aa01"}`)); err != nil {
			t.Error(err)
		}
	})
	h.outcomes(t, "aa01", events.Confirmed)
	copies(func() { h.fire(t, "order-3", 1) })
	h.quiet(t)
	copies(func() { h.fire(t, "order-3", 2) })
	h.quiet(t)
	copies(func() { h.fire(t, "order-3", 3) })
	h.outcomes(t, "bb02", events.Unconfirmed)
	h.outcomes(t, "cc03", events.Unconfirmed)
	h.quiet(t)
	for _, id := range []string{"order-3:r1", "order-3:r2"} {
		if got := h.prov.tokens(id); !equal(got, []string{"bb02", "cc03"}) {
			t.Errorf("%s sent to %v, want bb02 and cc03 once each", id, got)
		}
	}
	for tk, want := range map[string]events.Outcome{"aa01": events.Confirmed, "bb02": events.Unconfirmed, "cc03": events.Unconfirmed} {
		if got := h.out.of(tk); !equal(got, []events.Outcome{want}) {
			t.Errorf("%s outcomes %v, want one %s", tk, got, want)
		}
	}
	if got := h.counter(t, "pushfleet_confirm_resent_tokens_total", "app", app); got != 4 {
		t.Errorf("re-sent tokens over the replicas = %v, want 4", got)
	}
	if got := h.counter(t, "pushfleet_confirmation_messages_total", "result", "duplicate"); got != 5 {
		t.Errorf("duplicate confirmations = %v, want 5", got)
	}
}

// TestTimersFire: with the real timers (message schedules, one-second
// resolution), a token that never confirms is re-sent after resend_every
// and reported unconfirmed when within ends.
func TestTimersFire(t *testing.T) {
	h := newHarness(t, 1)
	h.publish(t, confirmIntent("order-4", 2*time.Second, time.Second, "aa01"))
	natstest.Eventually(t, 15*time.Second, func() bool { return len(h.prov.tokens("order-4:r1")) > 0 }, "re-send by timer")
	h.outcomes(t, "aa01", events.Unconfirmed)
	natstest.Eventually(t, 10*time.Second, func() bool { return h.status(t, "order-4").Watch.Done }, "window recorded ended")
	if st := h.status(t, "order-4"); st.Watch.Sent != 1 {
		t.Fatalf("status after the window: sent %d, want 1", st.Watch.Sent)
	}
}

// TestConfirmationsRefused: what the service cannot take is dead-lettered
// with a reason that says why.
func TestConfirmationsRefused(t *testing.T) {
	h := newHarness(t, 1)
	h.publish(t, confirmIntent("order-5", time.Hour, 0, "aa01"))
	h.waitState(t, "order-5", "aa01", "delivered")
	for _, tc := range []struct {
		name, body, want string
	}{
		{"malformed", `{"intent_id":"order-5","token":"aa01","extra":1}`, "unknown field"},
		{"no token", `{"intent_id":"order-5"}`, "token is required"},
		{"unknown intent", `{"intent_id":"nope","token":"aa01"}`, "not awaiting confirmation"},
		{"other platform", `{"intent_id":"order-5","token":"aa01","platform":"fcm"}`, "does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := h.js.Publish(context.Background(), events.ConfirmSubject(app), []byte(tc.body)); err != nil {
				t.Fatal(err)
			}
			natstest.Eventually(t, 10*time.Second, func() bool {
				dl := h.lastDeadLetter(t)
				return dl != nil && contains(dl.Reason, tc.want)
			}, "dead letter naming %q", tc.want)
		})
	}
	// A re-send's id confirms the original intent.
	h.confirm(t, "order-5:r1", "aa01")
	h.outcomes(t, "aa01", events.Confirmed)
}

// TestExpiredNotResent: once the notification's expiry has passed, a tick
// re-sends nothing (it would only come back expired); the window still
// ends with the token unconfirmed.
func TestExpiredNotResent(t *testing.T) {
	h := newHarness(t, 1)
	in := confirmIntent("order-6", time.Hour, 20*time.Minute, "aa01")
	exp := time.Now().Add(time.Second)
	in.Notification.Expiry = &exp
	h.publish(t, in)
	h.waitState(t, "order-6", "aa01", confirmstate.StatePendingResend)
	natstest.Eventually(t, 5*time.Second, func() bool { return time.Now().After(exp) }, "expiry passed")
	h.fire(t, "order-6", 1)
	h.quiet(t)
	if got := h.prov.tokens("order-6:r1"); len(got) != 0 {
		t.Fatalf("expired notification re-sent to %v", got)
	}
	if st := h.status(t, "order-6"); st.Watch.Next != 2 {
		t.Fatalf("tick 1 not handled: next %d", st.Watch.Next)
	}
	h.fire(t, "order-6", 2)
	h.fire(t, "order-6", 3)
	h.outcomes(t, "aa01", events.Unconfirmed)
}

// TestConfirmByRequest: the endpoint push.registry.confirm.<app> answers
// at once: confirmed, a duplicate, or a refusal whose code and sentinel
// say why.
func TestConfirmByRequest(t *testing.T) {
	h := newHarness(t, 2)
	h.publish(t, confirmIntent("order-7", time.Hour, 0, "aa01", "bb02"))
	h.waitState(t, "order-7", "aa01", "delivered")
	ctx := context.Background()
	req := func(id, token string) (*events.ConfirmAnswer, error) {
		return events.RequestConfirm(ctx, h.nc, app, events.Confirmation{IntentID: id, Token: token})
	}
	a, err := req("order-7", "aa01")
	if err != nil || a.Outcome != events.Confirmed || a.Duplicate {
		t.Fatalf("first confirmation: %+v, %v", a, err)
	}
	h.outcomes(t, "aa01", events.Confirmed)
	if a, err := req("order-7:r1", "aa01"); err != nil || !a.Duplicate {
		t.Fatalf("second confirmation (a re-send's id): %+v, %v", a, err)
	}
	var ce *events.ConfirmError
	if _, err := req("nope", "aa01"); !errors.As(err, &ce) || ce.Code != events.ConfirmCodeUnknown ||
		!errors.Is(err, events.ErrConfirmationRefused) {
		t.Fatalf("unknown intent: %v", err)
	}
	if _, err := req("order-7", "zz99"); !errors.As(err, &ce) || ce.Code != events.ConfirmCodeRefused ||
		!strings.Contains(ce.Description, "no delivered outcome yet") {
		t.Fatalf("token never delivered: %v", err)
	}
	resp, err := h.nc.Request(events.ConfirmRequestSubject(app), []byte(`{"intent_id":"order-7"}`), 5*time.Second)
	if err != nil || resp.Header.Get("Nats-Service-Error-Code") != events.ConfirmCodeInvalid ||
		!strings.Contains(string(resp.Data), "400 bad request: invalid confirmation: token") {
		t.Fatalf("invalid body: %v %v %s", err, resp.Header, resp.Data)
	}
	if got := h.out.of("aa01"); !equal(got, []events.Outcome{events.Confirmed}) {
		t.Fatalf("aa01 outcomes %v, want one confirmed", got)
	}
}

// TestDeliveredAfterTheWindow: a token whose delivered outcome comes after
// the window ended is reported unconfirmed at once, with the reason.
func TestDeliveredAfterTheWindow(t *testing.T) {
	h := newHarness(t, 1)
	h.publish(t, confirmIntent("order-8", time.Hour, 0, "aa01"))
	h.waitState(t, "order-8", "aa01", "delivered")
	h.fire(t, "order-8", 1) // no re-sends: the end of the window
	h.outcomes(t, "aa01", events.Unconfirmed)
	natstest.Eventually(t, 10*time.Second, func() bool { return h.status(t, "order-8").Watch.Done }, "window ended")
	late, _ := json.Marshal(events.Feedback{App: app, Platform: events.APNs, Token: "cc03", Outcome: events.Delivered,
		IntentID: "order-8", At: time.Now().UTC()})
	if _, err := h.js.Publish(context.Background(), events.FeedbackSubject(events.APNs, app), late); err != nil {
		t.Fatal(err)
	}
	h.outcomes(t, "cc03", events.Unconfirmed)
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	for _, f := range h.out.fbs {
		if f.Token == "cc03" && !strings.Contains(f.Reason, "after confirm.within ended") {
			t.Fatalf("late token's reason %q", f.Reason)
		}
	}
}
