package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/dispatch"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/registry"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
)

type env struct {
	js  jetstream.JetStream
	url string
}

func setup(t *testing.T) *env {
	t.Helper()
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv)
	if err := streams.Provision(context.Background(), js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	return &env{js: js, url: srv.ClientURL()}
}

func (e *env) run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		if k == "PUSHFLEET_NATS_URL" {
			return e.url
		}
		return ""
	}
	err := run(context.Background(), args, getenv, strings.NewReader(stdin), &out, &errb)
	return out.String() + errb.String(), err
}

func (e *env) msgs(t *testing.T, stream string) uint64 {
	t.Helper()
	s, err := e.js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Info(context.Background())
	return info.State.Msgs
}

func TestSendFromFlagsAndStdin(t *testing.T) {
	e := setup(t)
	out, err := e.run(t, "", "send", "--id", "s1", "--app", "demo", "--platform", "apns", "--token", "abcd", "--title", "hi")
	if err != nil || strings.TrimSpace(out) != "s1" {
		t.Fatalf("send: %v %q", err, out)
	}
	out, err = e.run(t, "", "send", "--id", "s1", "--app", "demo", "--platform", "apns", "--token", "abcd", "--title", "hi")
	if err != nil || !strings.Contains(out, "duplicate") {
		t.Fatalf("second send: %v %q", err, out)
	}
	in := `{"id":"s2","app":"demo","targets":{"tag":"beta"},"notification":{"body":"x"}}`
	if out, err = e.run(t, in, "send", "--file", "-"); err != nil {
		t.Fatalf("send stdin: %v %q", err, out)
	}
	if _, err = e.run(t, "", "send", "--app", "demo", "--platform", "wns", "--token", "x", "--title", "t"); err == nil ||
		!strings.Contains(err.Error(), "targets.tokens[0].platform") {
		t.Fatalf("invalid intent not rejected with the field: %v", err)
	}
	if n := e.msgs(t, events.StreamIntents); n != 2 {
		t.Fatalf("%d intents stored, want 2", n)
	}
}

// schedule runs the dispatcher over the next intent, as the fleet would:
// a send_at intent becomes a schedule in PUSH_SCHEDULES.
func (e *env) schedule(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := dispatch.New(dispatch.Config{}, e.js, metrics.New(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := e.js.CreateOrUpdateConsumer(ctx, events.StreamIntents, jetstream.ConsumerConfig{
		Durable: events.DurableDispatcher, AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	m, err := cons.Next(jetstream.FetchContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if v := d.Handle(ctx, m); v.Action != consumer.Ack {
		t.Fatalf("dispatcher verdict %+v", v)
	}
	if err := m.DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}
}

func (e *env) feedback(t *testing.T) []events.Feedback {
	t.Helper()
	ctx := context.Background()
	s, err := e.js.Stream(ctx, events.StreamFeedback)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Info(ctx)
	var out []events.Feedback
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		fbs, err := events.DecodeFeedbackEvents(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fbs...)
	}
	return out
}

// pushctl cancel takes the id before or after its flags, deletes the
// dispatcher's schedule from PUSH_SCHEDULES and reports each explicit token
// cancelled; an alias intent is reported once per platform, with no token.
func TestScheduledSendCanBeCancelled(t *testing.T) {
	e := setup(t)
	at := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	if out, err := e.run(t, "", "send", "--id", "later", "--app", "demo", "--platform", "fcm", "--token", "t:1",
		"--title", "hi", "--send-at", at); err != nil {
		t.Fatalf("send: %v %q", err, out)
	}
	// Not yet taken by the dispatcher: nothing to cancel, and it says why.
	if out, err := e.run(t, "", "cancel", "--app", "demo", "later"); !errors.Is(err, errNotScheduled) ||
		!strings.Contains(err.Error(), "not yet scheduled") {
		t.Fatalf("cancel before scheduling: %v %q", err, out)
	}
	e.schedule(t)
	out, err := e.run(t, "", "cancel", "--app", "demo", "later")
	if err != nil || !strings.Contains(out, "cancelled later") || !strings.Contains(out, "1 token(s)") {
		t.Fatalf("cancel: %v %q", err, out)
	}
	if n := e.msgs(t, events.StreamSchedules); n != 0 {
		t.Fatalf("%d schedules left after cancel", n)
	}
	fbs := e.feedback(t)
	if len(fbs) != 1 || fbs[0].Outcome != events.Cancelled || fbs[0].Token != "t:1" || fbs[0].IntentID != "later" {
		t.Fatalf("feedback %+v, want t:1 cancelled", fbs)
	}
	if _, err := e.run(t, "", "cancel", "later", "--app", "demo"); !errors.Is(err, errNotScheduled) {
		t.Fatalf("cancelling twice: %v, want errNotScheduled", err)
	}

	in := `{"id":"later2","app":"demo","targets":{"alias":"u1"},"notification":{"title":"t"},"send_at":"` + at + `"}`
	if out, err := e.run(t, in, "send", "--file", "-"); err != nil {
		t.Fatalf("send alias: %v %q", err, out)
	}
	e.schedule(t)
	out, err = e.run(t, "", "cancel", "later2", "--app", "demo")
	if err != nil || !strings.Contains(out, `alias "u1"`) {
		t.Fatalf("cancel alias (id before flags): %v %q", err, out)
	}
	platforms := map[events.Platform]bool{}
	for _, f := range e.feedback(t)[1:] {
		if f.Outcome != events.Cancelled || f.Token != "" || f.IntentID != "later2" {
			t.Fatalf("alias feedback %+v", f)
		}
		platforms[f.Platform] = true
	}
	if len(platforms) != len(events.Platforms) {
		t.Fatalf("alias cancellation reported on %v, want every platform", platforms)
	}
}

// A send_at beyond the schedule horizon is refused before it is published.
func TestSendRefusesSendAtBeyondTheHorizon(t *testing.T) {
	e := setup(t)
	far := time.Now().Add(40 * 24 * time.Hour).UTC().Format(time.RFC3339)
	_, err := e.run(t, "", "send", "--app", "demo", "--platform", "fcm", "--token", "t:1", "--title", "hi", "--send-at", far)
	if err == nil || !strings.Contains(err.Error(), "schedule horizon") {
		t.Fatalf("err = %v, want the horizon named", err)
	}
	if _, err := e.run(t, "", "send", "--app", "demo", "--platform", "fcm", "--token", "t:1", "--title", "hi",
		"--send-at", far, "--schedule-horizon", "1000h"); err != nil {
		t.Fatalf("with a longer horizon: %v", err)
	}
}

func TestDeadListReplayPurge(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	job := events.Job{ID: "i.apns.0.x", IntentID: "i", App: "demo", Platform: events.APNs, Tokens: []string{"aa", "bb", "cc"},
		Notification: events.Notification{Title: "t"}}
	jb, _ := json.Marshal(job)
	dls := []events.DeadLetter{
		{Stage: "apns", App: "demo", Reason: "BadTopic", Attempts: 1, Subject: events.SendSubject(events.APNs, "demo"),
			Tokens: []string{"bb"}, Payload: jb, IntentID: "i"},
		{Stage: "intents", App: "demo", Reason: "invalid intent: id: is required", Attempts: 1, Subject: events.IntentSubject("demo"),
			Payload: json.RawMessage(`{"app":"demo"}`)},
		{Stage: "intents", App: "other", Reason: "malformed intent", Attempts: 1, Subject: events.IntentSubject("other"),
			PayloadBytes: []byte("{")},
	}
	for _, d := range dls {
		b, _ := json.Marshal(d)
		if _, err := e.js.Publish(ctx, events.DeadSubject(d.Stage, d.App), b); err != nil {
			t.Fatal(err)
		}
	}
	out, err := e.run(t, "", "dead", "list", "--stage", "intents")
	if err != nil || !strings.Contains(out, "2 dead letters") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = e.run(t, "", "dead", "show", "1")
	if err != nil || !strings.Contains(out, `"reason": "BadTopic"`) {
		t.Fatalf("show: %v\n%s", err, out)
	}
	// Replaying a sender's dead letter re-queues only the tokens given up on.
	out, err = e.run(t, "", "dead", "replay", "--stage", "apns")
	if err != nil || !strings.Contains(out, "1 replayed") {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	s, _ := e.js.Stream(ctx, events.SendStream(events.APNs))
	m, err := s.GetLastMsgForSubject(ctx, events.SendSubject(events.APNs, "demo"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := events.DecodeJob(m.Data)
	if err != nil || len(got.Tokens) != 1 || got.Tokens[0] != "bb" {
		t.Fatalf("replayed job %+v (%v), want only token bb", got, err)
	}
	if _, err := e.run(t, "", "dead", "purge"); err == nil {
		t.Fatal("purge without a filter or --all must refuse")
	}
	out, err = e.run(t, "", "dead", "purge", "--app", "other")
	if err != nil || !strings.Contains(out, "1 purged") {
		t.Fatalf("purge: %v\n%s", err, out)
	}
	if n := e.msgs(t, events.StreamDead); n != 1 {
		t.Fatalf("%d dead letters left, want 1", n)
	}
}

func TestDeviceVerbsThroughTheRegistryService(t *testing.T) {
	e := setup(t)
	nc, err := nats.Connect(e.url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	kv, err := e.js.KeyValue(context.Background(), events.TokensBucket)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := registry.NewService(nc, tokens.NewDevices(e.js, kv), registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	for _, tok := range []string{"t:1", "t:2"} {
		if out, err := e.run(t, "", "device", "register", "--app", "demo", "--platform", "fcm", "--token", tok,
			"--alias", "user-1", "--tag", "beta"); err != nil {
			t.Fatalf("register: %v\n%s", err, out)
		}
	}
	out, err := e.run(t, "", "device", "list", "--app", "demo", "--tag", "beta")
	if err != nil || !strings.Contains(out, "fcm t:1") || !strings.Contains(out, "2 devices") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = e.run(t, "", "device", "get", "--app", "demo", "--platform", "fcm", "--token", "t:2")
	if err != nil || !strings.Contains(out, `"state": "active"`) || !strings.Contains(out, `"alias": "user-1"`) {
		t.Fatalf("get: %v\n%s", err, out)
	}
	if _, err := e.run(t, "", "device", "unregister", "--app", "demo", "--platform", "fcm", "--token", "t:2"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.run(t, "", "device", "get", "--app", "demo", "--platform", "fcm", "--token", "t:2"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("get after unregister: %v, want registry.ErrNotFound", err)
	}
}

func TestProvisionIsIdempotent(t *testing.T) {
	srv := natstest.RunServer(t)
	e := &env{url: srv.ClientURL()}
	_, e.js = natstest.Connect(t, srv)
	for range 2 {
		out, err := e.run(t, "", "provision", "--feedback-retention", "48h")
		if err != nil || !strings.Contains(out, "PUSH_SEND_APNS") {
			t.Fatalf("provision: %v\n%s", err, out)
		}
	}
	s, err := e.js.Stream(context.Background(), events.StreamFeedback)
	if err != nil {
		t.Fatal(err)
	}
	if s.CachedInfo().Config.MaxAge != 48*time.Hour {
		t.Fatalf("feedback retention %v, want 48h", s.CachedInfo().Config.MaxAge)
	}
}

// A dead letter truncated to fit (its payload only a prefix, with the
// whole one's size and SHA-256) says so in dead list and dead show, and
// dead replay names why it cannot be replayed, keeps it and fails, instead
// of "no original message to replay". A stage no dead letter can have is
// refused instead of matching nothing and reporting "0 replayed".
func TestDeadTruncatedAndUnknownStage(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	in := `{"id":"big","app":"demo","targets":{"alias":"u"},"notification":{"title":"t"},"pad":"` + strings.Repeat("x", 3000) + `"}`
	d := events.DeadLetter{Stage: events.StageIntents, App: "demo", Reason: "too large", Attempts: 1,
		Subject: events.IntentSubject("demo"), IntentID: "big"}
	d.SetPayload([]byte(in))
	b, err := d.Encode(1024)
	if err != nil {
		t.Fatal(err)
	}
	var stored events.DeadLetter
	if err := json.Unmarshal(b, &stored); err != nil || !stored.Truncated {
		t.Fatalf("test dead letter not truncated: %v", err)
	}
	if _, err := e.js.Publish(ctx, events.DeadSubject(d.Stage, d.App), b); err != nil {
		t.Fatal(err)
	}
	why := fmt.Sprintf("truncated (%d bytes, sha256 %s): not replayable", len(in), stored.PayloadSHA256)

	out, err := e.run(t, "", "dead", "list")
	if err != nil || !strings.Contains(out, " truncated ") || !strings.Contains(out, "1 dead letters") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = e.run(t, "", "dead", "show", "1")
	if err != nil || !strings.Contains(out, `"truncated": true`) || !strings.Contains(out, why) {
		t.Fatalf("show: %v\n%s\nwant %q", err, out, why)
	}
	out, err = e.run(t, "", "dead", "replay", "--stage", "intents")
	if err == nil || !strings.Contains(out, "skip 1: "+why) || strings.Contains(out, "no original message") {
		t.Fatalf("replay: %v\n%s\nwant an error and %q", err, out, why)
	}
	if n := e.msgs(t, events.StreamDead); n != 1 {
		t.Fatalf("%d dead letters left, want the truncated one kept", n)
	}
	if n := e.msgs(t, events.StreamIntents); n != 0 {
		t.Fatalf("%d intents published from a truncated dead letter", n)
	}

	for _, verb := range []string{"replay", "list", "purge"} {
		out, err = e.run(t, "", "dead", verb, "--stage", "nosuch")
		if err == nil || !strings.Contains(err.Error(), `unknown stage "nosuch"`) || !strings.Contains(err.Error(), "intents, apns, fcm, mi, ") || !strings.Contains(err.Error(), "feedback") ||
			strings.Contains(out, "0 replayed") {
			t.Fatalf("dead %s --stage nosuch: %v\n%s", verb, err, out)
		}
	}
	if _, err := e.run(t, "", "dead", "replay", "--app", "a.b"); err == nil || !strings.Contains(err.Error(), `app "a.b"`) {
		t.Fatalf("dead replay --app a.b: %v", err)
	}
	if n := e.msgs(t, events.StreamDead); n != 1 {
		t.Fatalf("%d dead letters left, want 1", n)
	}
}
