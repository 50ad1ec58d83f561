package events_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Feedback names are validated at decode: the app is a subject and key
// token, the token a sane device token, the outcome known, new_token only
// with token_replaced. Before, any non-empty app (dots included), any
// outcome and any token were accepted.
func TestDecodeFeedbackValidatesNames(t *testing.T) {
	tests := []struct {
		name, body string
		wantErr    string // "" accepts
	}{
		{"invalid token", `{"app":"shop","platform":"apns","token":"ab01","outcome":"invalid_token","reason":"Unregistered"}`, ""},
		{"fcm token", `{"app":"shop","platform":"fcm","token":"d1:APA91b-x_y","outcome":"delivered"}`, ""},
		{"mi regid", `{"app":"shop","platform":"mi","token":"abc+/=","outcome":"failed"}`, ""},
		{"replacement", `{"app":"shop","platform":"fcm","token":"t","outcome":"token_replaced","new_token":"u"}`, ""},
		{"cancelled without a token", `{"app":"shop","platform":"apns","outcome":"cancelled","reason":"cancelled before resolution"}`, ""},
		{"cancelled with a token", `{"app":"shop","platform":"apns","token":"ab","outcome":"cancelled"}`, ""},
		{"app with dots", `{"app":"shop.alias.tdTE","platform":"apns","token":"x","outcome":"invalid_token"}`, "app"},
		{"app with a wildcard", `{"app":"*","platform":"apns","token":"x","outcome":"invalid_token"}`, "app"},
		{"app with a space", `{"app":"sh op","platform":"apns","token":"x","outcome":"invalid_token"}`, "app"},
		{"missing app", `{"platform":"apns","token":"x","outcome":"invalid_token"}`, "app"},
		{"unknown platform", `{"app":"shop","platform":"wp","token":"x","outcome":"delivered"}`, "platform"},
		{"unknown outcome", `{"app":"shop","platform":"apns","token":"x","outcome":"revived"}`, "outcome"},
		{"missing outcome", `{"app":"shop","platform":"apns","token":"x"}`, "outcome"},
		{"missing token", `{"app":"shop","platform":"apns","outcome":"invalid_token"}`, "token"},
		{"token with a comma", `{"app":"shop","platform":"mi","token":"a,b","outcome":"invalid_token"}`, "token"},
		{"token with a control character", `{"app":"shop","platform":"mi","token":"a\u0000b","outcome":"invalid_token"}`, "token"},
		{"token with a space", `{"app":"shop","platform":"mi","token":"a b","outcome":"invalid_token"}`, "token"},
		{"token too long", `{"app":"shop","platform":"mi","token":"` + strings.Repeat("a", 4097) + `","outcome":"invalid_token"}`, "token"},
		{"replacement without new_token", `{"app":"shop","platform":"fcm","token":"t","outcome":"token_replaced"}`, "new_token"},
		{"new_token with another outcome", `{"app":"shop","platform":"fcm","token":"t","outcome":"delivered","new_token":"u"}`, "new_token"},
		{"new_token with a comma", `{"app":"shop","platform":"fcm","token":"t","outcome":"token_replaced","new_token":"u,v"}`, "new_token"},
		{"new_token equal to token", `{"app":"shop","platform":"fcm","token":"t","outcome":"token_replaced","new_token":"t"}`, "new_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := events.DecodeFeedback([]byte(tt.body))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if !errors.Is(err, events.ErrMalformed) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("decoded %+v, %v; want ErrMalformed naming %s", f, err, tt.wantErr)
			}
			if len(err.Error()) > 200 {
				t.Fatalf("error of %d bytes: refused names must be clipped", len(err.Error()))
			}
		})
	}
}

// The subject is the authority: a feedback event must name the platform
// and app of its subject.
func TestFeedbackCheckSubject(t *testing.T) {
	f := &events.Feedback{App: "shop", Platform: events.FCM, Token: "t", Outcome: events.InvalidToken}
	tests := []struct {
		subject, wantErr string
	}{
		{"push.feedback.fcm.shop", ""},
		{"push.feedback.apns.shop", "feedback for fcm/shop on subject push.feedback.apns.shop"},
		{"push.feedback.fcm.demo", "feedback for fcm/shop on subject push.feedback.fcm.demo"},
		{"push.feedback.fcm", "is not push.feedback.<platform>.<app>"},
		{"push.feedback.fcm.shop.x", "is not push.feedback.<platform>.<app>"},
		{"push.intents.shop", "is not push.feedback.<platform>.<app>"},
	}
	for _, tt := range tests {
		t.Run(tt.subject, func(t *testing.T) {
			err := f.CheckSubject(tt.subject)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, events.ErrNotAllowed) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("%v, want ErrNotAllowed naming %q", err, tt.wantErr)
			}
		})
	}
	if p, a, ok := events.ParseFeedbackSubject(events.FeedbackSubject(events.Mi, "shop")); !ok || p != events.Mi || a != "shop" {
		t.Fatalf("parse of FeedbackSubject: %s %s %v", p, a, ok)
	}
}

// confirmed and unconfirmed come from the confirmation service alone, on
// its own subject, which carries nothing else: a sender cannot claim a
// confirmation, the confirmation service cannot report a dead token.
func TestConfirmOutcomesOnlyOnTheConfirmSubject(t *testing.T) {
	plain, confirm := events.FeedbackSubject(events.APNs, "shop"), events.ConfirmFeedbackSubject(events.APNs, "shop")
	tests := []struct {
		outcome events.Outcome
		subject string
		ok      bool
	}{
		{events.Confirmed, confirm, true},
		{events.Unconfirmed, confirm, true},
		{events.Confirmed, plain, false},
		{events.Unconfirmed, plain, false},
		{events.InvalidToken, confirm, false},
		{events.Delivered, confirm, false},
		{events.Delivered, plain, true},
	}
	for _, tt := range tests {
		f := &events.Feedback{App: "shop", Platform: events.APNs, Token: "aa", Outcome: tt.outcome}
		err := f.CheckSubject(tt.subject)
		if err == nil {
			err = f.CheckOutcome()
		}
		if tt.ok != (err == nil) || err != nil && !errors.Is(err, events.ErrNotAllowed) {
			t.Errorf("%s on %s: %v, want allowed=%v", tt.outcome, tt.subject, err, tt.ok)
		}
	}
	if p, a, ok := events.ParseFeedbackSubject(confirm); !ok || p != events.APNs || a != "shop" {
		t.Fatalf("parse of ConfirmFeedbackSubject: %s %s %v", p, a, ok)
	}
	if events.APNs.Reports(events.Confirmed) {
		t.Error("a sender may report confirmed")
	}
}

// None of pushfleet's providers (APNs, FCM HTTP v1, MiPush) names a
// replacement token: token_replaced from any of them is a forgery.
func TestNoPlatformReplacesTokens(t *testing.T) {
	for _, p := range events.Platforms {
		if p.ReplacesTokens() || p.Reports(events.TokenReplaced) {
			t.Errorf("%s may report token_replaced", p)
		}
		for _, o := range []events.Outcome{events.Delivered, events.InvalidToken, events.Failed, events.Expired, events.Dead, events.Suppressed, events.Cancelled} {
			if !p.Reports(o) {
				t.Errorf("%s may not report %s", p, o)
			}
		}
		if p.Reports("revived") {
			t.Errorf("%s may report an unknown outcome", p)
		}
		f := &events.Feedback{App: "shop", Platform: p, Token: "t", Outcome: events.TokenReplaced, NewToken: "u"}
		if err := f.CheckOutcome(); !errors.Is(err, events.ErrNotAllowed) || !strings.Contains(err.Error(), "token_replaced from "+string(p)) {
			t.Errorf("%s token_replaced: %v, want ErrNotAllowed", p, err)
		}
	}
	if events.Platform("wp").Reports(events.Delivered) {
		t.Error("an unknown platform may report")
	}
}
