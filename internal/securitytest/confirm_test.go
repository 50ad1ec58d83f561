package securitytest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/sandbox"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// confirmEverywhere runs confirmed delivery under the shipped permissions:
// the producer publishes an intent asking for confirmation (the dispatcher
// records its watch), the app's backend (registry-<app>) confirms one
// token by publishing on push.confirm.<app> and one through the endpoint
// push.registry.confirm.<app>, and the confirmation service re-sends to the
// third on its timers and reports it unconfirmed when the window ends. It
// returns the tokens.
func confirmEverywhere(t *testing.T, ctx context.Context, producer, admin jetstream.JetStream, registry *nats.Conn,
	fakes *sandbox.Providers, fr *fleetRun) []events.Target {
	t.Helper()
	yes := events.Target{Platform: events.APNs, Token: sandbox.Token(events.APNs, 900, false)}
	asked := events.Target{Platform: events.HMS, Token: sandbox.Token(events.HMS, 902, false)}
	no := events.Target{Platform: events.FCM, Token: sandbox.Token(events.FCM, 901, false)}
	in := &events.Intent{ID: "sec-confirm", App: sandbox.App, Targets: events.Targets{Tokens: []events.Target{yes, asked, no}},
		Notification: events.Notification{Title: "secure", Body: "confirm me"},
		Confirm:      &events.Confirm{Within: events.Duration(3 * time.Second), ResendEvery: events.Duration(time.Second)}}
	if _, err := events.NewPublisher(producer).Publish(ctx, in); err != nil {
		t.Fatalf("producer publishes an intent with confirm: %v", err)
	}
	waitUntil(t, fr, 30*time.Second, func() bool { return fakes.Delivered(yes) > 0 && fakes.Delivered(asked) > 0 },
		"the tokens to confirm delivered")
	// Through the endpoint (push.registry.confirm.<app>), answered at once;
	// "not delivered yet" while the delivered outcome is on its way.
	waitUntil(t, fr, 30*time.Second, func() bool {
		a, err := events.RequestConfirm(ctx, registry, sandbox.App, events.Confirmation{IntentID: in.ID, Token: asked.Token})
		return err == nil && a.Outcome == events.Confirmed
	}, "the endpoint confirms")
	backend, err := jetstream.New(registry)
	if err != nil {
		t.Fatal(err)
	}
	// Its delivered outcome may still be on its way: the service retries.
	if _, err := events.NewPublisher(backend).Confirm(ctx, sandbox.App, events.Confirmation{IntentID: in.ID, Token: yes.Token}); err != nil {
		t.Fatalf("registry-%s confirms: %v", sandbox.App, err)
	}
	feedback, err := admin.Stream(ctx, events.StreamFeedback)
	if err != nil {
		t.Fatal(err)
	}
	reported := func(tg events.Target, o events.Outcome) func() bool {
		return func() bool {
			m, err := feedback.GetLastMsgForSubject(ctx, events.ConfirmFeedbackSubject(tg.Platform, sandbox.App))
			if err != nil {
				return false
			}
			fbs, _ := events.DecodeFeedbackEvents(m.Data)
			return slices.ContainsFunc(fbs, func(f events.Feedback) bool {
				return f.IntentID == in.ID && f.Token == tg.Token && f.Outcome == o
			})
		}
	}
	waitUntil(t, fr, 30*time.Second, reported(yes, events.Confirmed), "confirmed reported")
	waitUntil(t, fr, 30*time.Second, reported(asked, events.Confirmed), "confirmed by request reported")
	waitUntil(t, fr, 30*time.Second, reported(no, events.Unconfirmed), "unconfirmed reported after the window")
	if fakes.Delivered(no) < 2 {
		t.Fatalf("the unconfirmed token was sent %d times, want re-sends", fakes.Delivered(no))
	}
	return []events.Target{yes, asked, no}
}

// The confirmation service reports confirmed and unconfirmed and nothing
// else: it cannot publish a sender's outcome (push.feedback.<p>.<app>), a
// job, a schedule of the dispatcher's or a token record. A backend confirms
// for its own app only; nobody else records watches or writes its timers,
// and no sender or the dispatcher can report confirmed.
func TestConfirmationRights(t *testing.T) {
	as := startAuthServer(t, nil)
	admin := as.connect(t, "admin")
	provisionAsAdmin(t, admin.js)
	refused := []struct{ user, subject string }{
		{"confirm-service", events.FeedbackSubject(events.APNs, "demo")},
		{"confirm-service", events.SendSubject(events.APNs, "demo")},
		{"confirm-service", events.ScheduleSubject("demo", "x")},
		{"confirm-service", "$KV." + events.TokensBucket + ".demo.x"},
		{"confirm-service", events.ConfirmWatchSubject("demo", "x")},
		{"registry-demo", events.ConfirmSubject("shop")},
		{"registry-demo", events.IntentSubject("demo")},
		{"registry-demo", events.ConfirmRequestSubject("shop")},
		{"producer", events.ConfirmWatchSubject("demo", "x")},
		{"producer", events.ConfirmFeedbackSubject(events.APNs, "demo")},
		{"dispatcher", events.ConfirmFeedbackSubject(events.APNs, "demo")},
		{"dispatcher", events.ConfirmTimerSubject("demo", "x")},
		{"apns-sender", events.ConfirmFeedbackSubject(events.APNs, "demo")},
		{"feedback-sink", events.ConfirmSubject("demo")},
		{"push-gateway", events.ConfirmDueSubject("demo")},
	}
	conns := map[string]*client{}
	conn := func(u string) *client {
		if conns[u] == nil {
			conns[u] = as.connect(t, u)
		}
		return conns[u]
	}
	for _, r := range refused {
		t.Run("refused/"+r.user+"/"+r.subject, func(t *testing.T) {
			c := conn(r.user)
			c.denied(t, r.subject, func(ctx context.Context) error {
				_, err := c.js.Publish(ctx, r.subject, []byte(`{}`))
				return err
			})
		})
	}
	allowed := []struct{ user, subject string }{
		{"confirm-service", events.ConfirmFeedbackSubject(events.APNs, "demo")},
		{"registry-demo", events.ConfirmSubject("demo")},
		{"dispatcher", events.ConfirmWatchSubject("demo", "x")},
	}
	for _, a := range allowed {
		t.Run("allowed/"+a.user+"/"+a.subject, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := conn(a.user).js.Publish(ctx, a.subject, []byte(`{}`)); err != nil {
				t.Fatalf("%s publishes %s: %v", a.user, a.subject, err)
			}
		})
	}
}
