package sink_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/sink"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// msg is a feedback message as the runner hands it to the sink: Handle
// reads only its subject and body.
type msg struct {
	jetstream.Msg
	subject string
	data    []byte
}

func (m *msg) Subject() string      { return m.subject }
func (m *msg) Data() []byte         { return m.data }
func (m *msg) Headers() nats.Header { return nats.Header{} }

type env struct {
	js   jetstream.JetStream
	kv   jetstream.KeyValue
	reg  *tokens.Devices
	sink *sink.Sink
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv)
	kv, err := streams.CreateTokens(ctxT(t), js, streams.Config{Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	reg := tokens.NewDevices(js, kv)
	return &env{js: js, kv: kv, reg: reg, sink: sink.New(sink.Config{FlushInterval: time.Hour}, reg.Store(), metrics.New())}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// lastSeq is the bucket's last stream sequence: it moves with every write.
func (e *env) lastSeq(t *testing.T) uint64 {
	t.Helper()
	s, err := e.js.Stream(ctxT(t), "KV_"+events.TokensBucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

func (e *env) register(t *testing.T, d tokens.Device) {
	t.Helper()
	if _, err := e.reg.Register(ctxT(t), d); err != nil {
		t.Fatal(err)
	}
}

func (e *env) state(t *testing.T, app string, p events.Platform, token string) *tokens.Record {
	t.Helper()
	r, err := e.reg.Get(ctxT(t), app, p, token)
	if err != nil {
		t.Fatalf("record %s/%s/%s: %v", app, p, token, err)
	}
	return r
}

func (e *env) alias(t *testing.T, app, alias string) []events.Target {
	t.Helper()
	var out []events.Target
	if err := e.reg.Each(ctxT(t), app, tokens.AliasIndex, alias, 100, func(ts []events.Target) error {
		out = append(out, ts...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func body(t *testing.T, f events.Feedback) []byte {
	t.Helper()
	if f.At.IsZero() {
		f.At = time.Now().UTC()
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Devices every case starts from: shop's FCM, MiPush and APNs tokens, all
// under alias u1.
const (
	fcmTok  = "fcm:shop-1"
	miTok   = "mi+shop/1="
	apnsTok = "ab01"
)

func seed(t *testing.T, e *env) {
	for _, d := range []tokens.Device{
		{App: "shop", Platform: events.FCM, Token: fcmTok, Alias: "u1"},
		{App: "shop", Platform: events.Mi, Token: miTok, Alias: "u1"},
		{App: "shop", Platform: events.APNs, Token: apnsTok, Alias: "u1"},
	} {
		e.register(t, d)
	}
}

// Refused events are dead-lettered with a reason and change no token
// state. Before, the sink trusted the body: a sender allowed only
// push.feedback.apns.* invalidated FCM and MiPush tokens, and a forged
// token_replaced redirected an alias to an attacker's token.
func TestHandleRefusesWhatTheSubjectDoesNotAllow(t *testing.T) {
	later := time.Now().Add(time.Minute).UTC()
	tests := []struct {
		name         string
		subject      string
		body         func(t *testing.T) []byte
		wantCategory string
		wantReason   string
	}{
		{"apns-sender invalidates an FCM token", "push.feedback.apns.shop", func(t *testing.T) []byte {
			return body(t, events.Feedback{App: "shop", Platform: events.FCM, Token: fcmTok, Outcome: events.InvalidToken, Reason: "UNREGISTERED", At: later})
		}, "subject_mismatch", "feedback for fcm/shop on subject push.feedback.apns.shop"},
		{"apns-sender invalidates a MiPush token", "push.feedback.apns.shop", func(t *testing.T) []byte {
			return body(t, events.Feedback{App: "shop", Platform: events.Mi, Token: miTok, Outcome: events.InvalidToken, Reason: "20301", At: later})
		}, "subject_mismatch", "feedback for mi/shop on subject push.feedback.apns.shop"},
		{"apns-sender replaces an FCM token", "push.feedback.apns.shop", func(t *testing.T) []byte {
			return body(t, events.Feedback{App: "shop", Platform: events.FCM, Token: fcmTok, Outcome: events.TokenReplaced, NewToken: "attacker"})
		}, "subject_mismatch", "feedback for fcm/shop on subject push.feedback.apns.shop"},
		{"another app's subject", "push.feedback.apns.demo", func(t *testing.T) []byte {
			return body(t, events.Feedback{App: "shop", Platform: events.APNs, Token: apnsTok, Outcome: events.InvalidToken, At: later})
		}, "subject_mismatch", "feedback for apns/shop on subject push.feedback.apns.demo"},
		{"forged replacement on the right subject", "push.feedback.fcm.shop", func(t *testing.T) []byte {
			return body(t, events.Feedback{App: "shop", Platform: events.FCM, Token: fcmTok, Outcome: events.TokenReplaced, NewToken: "attacker"})
		}, "not_allowed", "token_replaced from fcm"},
		{"forged APNs replacement", "push.feedback.apns.shop", func(t *testing.T) []byte {
			return body(t, events.Feedback{App: "shop", Platform: events.APNs, Token: apnsTok, Outcome: events.TokenReplaced, NewToken: "ffff"})
		}, "not_allowed", "token_replaced from apns"},
		{"not JSON", "push.feedback.apns.shop", func(*testing.T) []byte { return []byte(`{"app":`) },
			"malformed", "malformed feedback"},
		{"phantom alias member: app with dots", "push.feedback.apns.shop", func(t *testing.T) []byte {
			return body(t, events.Feedback{App: "shop.alias." + tokens.TokenKey("u1"), Platform: events.APNs, Token: "x", Outcome: events.InvalidToken})
		}, "malformed", "app"},
		{"token with a comma", "push.feedback.mi.shop", func(t *testing.T) []byte {
			return body(t, events.Feedback{App: "shop", Platform: events.Mi, Token: miTok + ",other", Outcome: events.InvalidToken})
		}, "malformed", "token"},
		{"token with a control character", "push.feedback.apns.shop", func(t *testing.T) []byte {
			return body(t, events.Feedback{App: "shop", Platform: events.APNs, Token: "ab\x0001", Outcome: events.InvalidToken})
		}, "malformed", "token"},
		{"empty token", "push.feedback.apns.shop", func(t *testing.T) []byte {
			return body(t, events.Feedback{App: "shop", Platform: events.APNs, Outcome: events.InvalidToken})
		}, "malformed", "token"},
		{"unknown outcome", "push.feedback.apns.shop", func(t *testing.T) []byte {
			return body(t, events.Feedback{App: "shop", Platform: events.APNs, Token: apnsTok, Outcome: "revived"})
		}, "malformed", "outcome"},
		{"new token with white space", "push.feedback.fcm.shop", func(t *testing.T) []byte {
			return body(t, events.Feedback{App: "shop", Platform: events.FCM, Token: fcmTok, Outcome: events.TokenReplaced, NewToken: "a b"})
		}, "malformed", "new_token"},
		{"subject without an app", "push.feedback.apns", func(t *testing.T) []byte {
			return body(t, events.Feedback{App: "shop", Platform: events.APNs, Token: apnsTok, Outcome: events.InvalidToken})
		}, "subject_mismatch", "push.feedback.apns"},
		{"unknown platform in the subject", "push.feedback.wp.shop", func(t *testing.T) []byte {
			return body(t, events.Feedback{App: "shop", Platform: events.APNs, Token: apnsTok, Outcome: events.InvalidToken})
		}, "subject_mismatch", "push.feedback.wp.shop"},
	}
	e := newEnv(t)
	seed(t, e)
	wantAlias := e.alias(t, "shop", "u1")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.lastSeq(t)
			v := e.sink.Handle(ctxT(t), &msg{subject: tt.subject, data: tt.body(t)})
			if v.Action != consumer.Dead || v.Category != tt.wantCategory || !strings.Contains(v.Reason, tt.wantReason) {
				t.Fatalf("verdict %+v, want a dead letter (%s) naming %q", v, tt.wantCategory, tt.wantReason)
			}
			if _, app, ok := events.ParseFeedbackSubject(tt.subject); ok && v.App != app || !ok && v.App != "" {
				t.Errorf("dead letter for app %q, want the subject's app", v.App)
			}
			if strings.Contains(v.Reason, fcmTok) || strings.Contains(v.Reason, miTok) {
				t.Errorf("reason %q names a token", v.Reason)
			}
			if after := e.lastSeq(t); after != before {
				t.Fatalf("a refused event wrote the bucket (sequence %d → %d)", before, after)
			}
		})
	}
	for _, c := range []struct {
		p   events.Platform
		tok string
	}{{events.FCM, fcmTok}, {events.Mi, miTok}, {events.APNs, apnsTok}} {
		if r := e.state(t, "shop", c.p, c.tok); r.State != tokens.Active || r.ReplacedBy != "" {
			t.Errorf("%s token %+v, want active", c.p, r)
		}
	}
	if got := e.alias(t, "shop", "u1"); len(got) != len(wantAlias) || len(got) != 3 {
		t.Fatalf("alias u1 resolves to %v, want %v", got, wantAlias)
	}
	for _, tg := range e.alias(t, "shop", "u1") {
		if tg.Token == "attacker" || tg.Token == "ffff" {
			t.Fatalf("alias u1 redirected to %v", tg)
		}
	}
	if _, err := e.reg.Get(ctxT(t), "shop", events.FCM, "attacker"); err == nil {
		t.Fatal("the attacker's token got a record")
	}
}

// What a sender may report is applied: invalid_token on the token's own
// subject, and delivered events batched into one write per token; a
// cancelled event without a token (an alias or tag intent cancelled before
// its audience was resolved) is taken, not dead-lettered as before.
func TestHandleAppliesAllowedFeedback(t *testing.T) {
	e := newEnv(t)
	seed(t, e)
	ctx := ctxT(t)
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	tests := []struct {
		name    string
		subject string
		f       events.Feedback
		writes  bool
	}{
		{"delivered", "push.feedback.fcm.shop", events.Feedback{App: "shop", Platform: events.FCM, Token: fcmTok, Outcome: events.Delivered, At: t0}, false},
		{"delivered later", "push.feedback.fcm.shop", events.Feedback{App: "shop", Platform: events.FCM, Token: fcmTok, Outcome: events.Delivered, At: t0.Add(2 * time.Second)}, false},
		{"delivered earlier", "push.feedback.fcm.shop", events.Feedback{App: "shop", Platform: events.FCM, Token: fcmTok, Outcome: events.Delivered, At: t0.Add(time.Second)}, false},
		{"delivered to an unknown token", "push.feedback.apns.shop", events.Feedback{App: "shop", Platform: events.APNs, Token: "cafe", Outcome: events.Delivered, At: t0}, false},
		{"failed", "push.feedback.mi.shop", events.Feedback{App: "shop", Platform: events.Mi, Token: miTok, Outcome: events.Failed, Reason: "timeout"}, false},
		{"expired", "push.feedback.apns.shop", events.Feedback{App: "shop", Platform: events.APNs, Token: apnsTok, Outcome: events.Expired}, false},
		// pushctl cancel of an alias or tag intent: one event without a token.
		{"cancelled before resolution", "push.feedback.apns.shop", events.Feedback{App: "shop", Platform: events.APNs,
			Outcome: events.Cancelled, Reason: "cancelled before its audience was resolved"}, false},
		{"cancelled", "push.feedback.fcm.shop", events.Feedback{App: "shop", Platform: events.FCM, Token: fcmTok, Outcome: events.Cancelled}, false},
		{"invalid_token", "push.feedback.mi.shop", events.Feedback{App: "shop", Platform: events.Mi, Token: miTok, Outcome: events.InvalidToken,
			Reason: "20301", At: time.Now().Add(time.Second)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.lastSeq(t)
			if v := e.sink.Handle(ctx, &msg{subject: tt.subject, data: body(t, tt.f)}); v.Action != consumer.Ack {
				t.Fatalf("verdict %+v, want ack", v)
			}
			if wrote := e.lastSeq(t) != before; wrote != tt.writes {
				t.Fatalf("bucket written: %v, want %v", wrote, tt.writes)
			}
		})
	}
	if r := e.state(t, "shop", events.Mi, miTok); r.State != tokens.Invalid || r.Reason != "20301" {
		t.Fatalf("MiPush token after invalid_token: %+v", r)
	}
	if r := e.state(t, "shop", events.FCM, fcmTok); r.LastSuccess != nil {
		t.Fatalf("last success written before the flush: %v", r.LastSuccess)
	}
	before := e.lastSeq(t)
	if err := e.sink.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if r := e.state(t, "shop", events.FCM, fcmTok); r.LastSuccess == nil || !r.LastSuccess.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("last success %v, want the latest delivery %v", r.LastSuccess, t0.Add(2*time.Second))
	}
	if got := e.lastSeq(t) - before; got != 1 {
		t.Fatalf("flush of three deliveries to one token and one to an unknown token wrote %d times, want 1", got)
	}
	if _, err := e.reg.Get(ctx, "shop", events.APNs, "cafe"); err == nil {
		t.Fatal("a delivery created a record for an unregistered token")
	}
}

// batch is the batch form of fbs, as internal/feedback publishes it.
func batch(t *testing.T, fbs ...events.Feedback) []byte {
	t.Helper()
	for i := range fbs {
		if fbs[i].At.IsZero() {
			fbs[i].At = time.Now().UTC()
		}
	}
	b, err := events.AppendFeedbackBatch(nil, fbs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// One message of mixed outcomes is applied in one pass: invalid_token
// writes the token's state, delivered is batched for the flush, the rest
// (failed, expired, dead, cancelled) change nothing. A message in the
// single form, as earlier versions published, is still applied.
func TestHandleAppliesABatch(t *testing.T) {
	e := newEnv(t)
	seed(t, e)
	ctx := ctxT(t)
	const mi2, mi3 = "mi+shop/2=", "mi+shop/3="
	for _, tok := range []string{mi2, mi3} {
		e.register(t, tokens.Device{App: "shop", Platform: events.Mi, Token: tok})
	}
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	ev := func(token string, o events.Outcome, at time.Time) events.Feedback {
		return events.Feedback{App: "shop", Platform: events.Mi, Token: token, Outcome: o, IntentID: "i", JobID: "j", At: at}
	}
	before := e.lastSeq(t)
	v := e.sink.Handle(ctx, &msg{subject: "push.feedback.mi.shop", data: batch(t,
		ev(mi2, events.Delivered, t0),
		ev(miTok, events.InvalidToken, t0.Add(time.Second)),
		ev(mi3, events.Failed, t0),
		ev(mi3, events.Expired, t0),
		ev(mi3, events.Dead, t0),
		ev("", events.Cancelled, t0),
		ev(mi2, events.Delivered, t0.Add(2*time.Second)),
	)})
	if v.Action != consumer.Ack {
		t.Fatalf("verdict %+v, want ack", v)
	}
	if got := e.lastSeq(t) - before; got != 1 {
		t.Fatalf("the batch wrote the bucket %d times, want 1 (the invalid token)", got)
	}
	if r := e.state(t, "shop", events.Mi, miTok); r.State != tokens.Invalid {
		t.Fatalf("token after invalid_token: %+v", r)
	}
	if r := e.state(t, "shop", events.Mi, mi3); r.State != tokens.Active {
		t.Fatalf("token after failed, expired and dead: %+v", r)
	}
	// The single form, on FCM.
	if v := e.sink.Handle(ctx, &msg{subject: "push.feedback.fcm.shop", data: body(t, events.Feedback{App: "shop", Platform: events.FCM,
		Token: fcmTok, Outcome: events.InvalidToken, At: t0.Add(time.Second)})}); v.Action != consumer.Ack {
		t.Fatalf("single form: verdict %+v, want ack", v)
	}
	if r := e.state(t, "shop", events.FCM, fcmTok); r.State != tokens.Invalid {
		t.Fatalf("token after a single-form invalid_token: %+v", r)
	}
	if err := e.sink.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if r := e.state(t, "shop", events.Mi, mi2); r.LastSuccess == nil || !r.LastSuccess.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("last success %v, want the batch's latest delivery %v", r.LastSuccess, t0.Add(2*time.Second))
	}
}

// A batch stands or falls whole: one refused event dead-letters the
// message with a reason naming it, and none of the others, valid as they
// are, touches the bucket.
func TestHandleRefusesABatchWithOneBadEvent(t *testing.T) {
	e := newEnv(t)
	seed(t, e)
	valid := events.Feedback{App: "shop", Platform: events.FCM, Token: fcmTok, Outcome: events.InvalidToken, Reason: "UNREGISTERED"}
	delivered := events.Feedback{App: "shop", Platform: events.FCM, Token: "fcm:other", Outcome: events.Delivered}
	forged := events.Feedback{App: "shop", Platform: events.FCM, Token: fcmTok, Outcome: events.TokenReplaced, NewToken: "attacker"}
	confirmed := events.Feedback{App: "shop", Platform: events.FCM, Token: fcmTok, Outcome: events.Confirmed}
	tests := []struct {
		name, subject string
		data          func(t *testing.T) []byte
		category      string
		reason        string
	}{
		{"forged replacement", "push.feedback.fcm.shop", func(t *testing.T) []byte { return batch(t, delivered, valid, forged) },
			"not_allowed", "event 2 of 3: feedback not allowed: token_replaced from fcm"},
		{"confirmation on the senders' subject", "push.feedback.fcm.shop", func(t *testing.T) []byte { return batch(t, valid, confirmed) },
			"subject_mismatch", "event 1 of 2: feedback not allowed: confirmed on subject push.feedback.fcm.shop"},
		{"invalid_token on the confirmation subject", "push.feedback.fcm.shop.confirm", func(t *testing.T) []byte { return batch(t, confirmed, valid) },
			"subject_mismatch", "event 1 of 2: feedback not allowed: invalid_token on subject push.feedback.fcm.shop.confirm"},
		{"another platform's batch", "push.feedback.apns.shop", func(t *testing.T) []byte { return batch(t, valid) },
			"subject_mismatch", "event 0 of 1: feedback not allowed: feedback for fcm/shop on subject push.feedback.apns.shop"},
		{"a token with a comma", "push.feedback.fcm.shop", func(t *testing.T) []byte {
			return []byte(`{"app":"shop","platform":"fcm","events":[{"token":"fcm:shop-1","outcome":"invalid_token","at":"2026-11-25T10:00:00Z"},` +
				`{"token":"fcm:shop-1,other","outcome":"invalid_token","at":"2026-11-25T10:00:00Z"}]}`)
		}, "malformed", "event 1: token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.lastSeq(t)
			v := e.sink.Handle(ctxT(t), &msg{subject: tt.subject, data: tt.data(t)})
			if v.Action != consumer.Dead || v.Category != tt.category || !strings.Contains(v.Reason, tt.reason) || v.App != "shop" {
				t.Fatalf("verdict %+v, want a dead letter (%s) of app shop naming %q", v, tt.category, tt.reason)
			}
			if after := e.lastSeq(t); after != before {
				t.Fatalf("a refused batch wrote the bucket (sequence %d → %d)", before, after)
			}
		})
	}
	if r := e.state(t, "shop", events.FCM, fcmTok); r.State != tokens.Active || r.ReplacedBy != "" {
		t.Fatalf("FCM token %+v, want active", r)
	}
	before := e.lastSeq(t)
	if err := e.sink.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if after := e.lastSeq(t); after != before {
		t.Fatal("a refused batch's delivery was flushed")
	}
}

// The confirmation service's batch, on its own subject, is taken and
// changes no token state: confirmed and unconfirmed are about a
// notification, not a token.
func TestHandleTakesConfirmationBatch(t *testing.T) {
	e := newEnv(t)
	seed(t, e)
	ctx := ctxT(t)
	before := e.lastSeq(t)
	v := e.sink.Handle(ctx, &msg{subject: events.ConfirmFeedbackSubject(events.APNs, "shop"), data: batch(t,
		events.Feedback{App: "shop", Platform: events.APNs, Token: apnsTok, Outcome: events.Confirmed, IntentID: "otp-1"},
		events.Feedback{App: "shop", Platform: events.APNs, Token: "cafe", Outcome: events.Unconfirmed, IntentID: "otp-2", Reason: "window"},
	)})
	if v.Action != consumer.Ack {
		t.Fatalf("verdict %+v, want ack", v)
	}
	if err := e.sink.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if after := e.lastSeq(t); after != before {
		t.Fatalf("confirmations wrote the bucket (sequence %d → %d)", before, after)
	}
	if r := e.state(t, "shop", events.APNs, apnsTok); r.State != tokens.Active || r.LastSuccess != nil {
		t.Fatalf("APNs token after a confirmation: %+v", r)
	}
}
