package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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

func TestScheduledSendCanBeCancelled(t *testing.T) {
	e := setup(t)
	at := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if out, err := e.run(t, "", "send", "--id", "later", "--app", "demo", "--platform", "fcm", "--token", "t:1",
		"--title", "hi", "--send-at", at); err != nil {
		t.Fatalf("send: %v %q", err, out)
	}
	out, err := e.run(t, "", "cancel", "later", "--app", "demo")
	if err != nil || !strings.Contains(out, "cancelled later") {
		t.Fatalf("cancel: %v %q", err, out)
	}
	if n := e.msgs(t, events.StreamIntents); n != 0 {
		t.Fatalf("%d messages left after cancel", n)
	}
	if _, err := e.run(t, "", "cancel", "later", "--app", "demo"); err == nil {
		t.Fatal("cancelling twice did not report that nothing was scheduled")
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
	svc, err := registry.NewService(nc, tokens.NewRegistry(e.js, kv), registry.Config{})
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
