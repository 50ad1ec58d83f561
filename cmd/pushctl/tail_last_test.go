package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/feedback"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/registryapi"
)

// publishTokens stores one feedback message of app holding an event per
// token, all with outcome o.
func publishTokens(t *testing.T, js jetstream.JetStream, app string, o events.Outcome, toks ...string) {
	t.Helper()
	fbs := make([]events.Feedback, len(toks))
	for i, tok := range toks {
		fbs[i] = events.Feedback{App: app, Platform: events.APNs, Token: tok, Outcome: o, IntentID: "i-" + tok, At: time.Now().UTC()}
	}
	if err := feedback.NewPublisher(js).Publish(context.Background(), fbs); err != nil {
		t.Fatal(err)
	}
}

// tokensOf returns the tokens of tail -o json's lines, in order.
func tokensOf(t *testing.T, out string) []string {
	t.Helper()
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var f events.Feedback
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got = append(got, f.Token)
	}
	return got
}

// tailExits runs pushctl and fails the test unless it ends by itself
// (the context is only a guard against a tail that waits).
func tailExits(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	// run reorders its arguments in place: the caller's stay as they are.
	err := run(ctx, slices.Clone(args), func(string) string { return "" }, strings.NewReader(""), &out, &errb)
	if ctx.Err() != nil {
		t.Fatalf("pushctl %q waited instead of exiting:\n%s", args, out.String())
	}
	if err != nil {
		t.Fatalf("pushctl %q: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

// tail -n N without --since shows the last N events stored, counted per
// token (a message holds many) and after --app and --outcome, and exits
// (before: it waited for N new events, forever on a quiet fleet).
func TestTailLastEvents(t *testing.T) {
	e := setup(t)
	publishTokens(t, e.js, "rare", events.Delivered, "r1", "r2")
	for i := range 40 { // many messages after the rare app's: tail reads back past them
		publishTokens(t, e.js, "other", events.Delivered, fmt.Sprintf("o%d", i))
	}
	publishTokens(t, e.js, "shop", events.Delivered, "a1", "a2", "a3")
	publishTokens(t, e.js, "shop", events.Failed, "f1")
	publishTokens(t, e.js, "shop", events.Delivered, "b1", "b2", "b3", "b4")
	tests := []struct {
		name string
		args []string
		want []string // tokens shown, in stream order
	}{
		{"inside the last message", []string{"-n", "2"}, []string{"b3", "b4"}},
		{"the last message", []string{"-n", "4"}, []string{"b1", "b2", "b3", "b4"}},
		{"across messages", []string{"-n", "7"}, []string{"a2", "a3", "f1", "b1", "b2", "b3", "b4"}},
		{"by outcome", []string{"-n", "5", "--outcome", "delivered"}, []string{"a3", "b1", "b2", "b3", "b4"}},
		{"by outcome, one message", []string{"-n", "2", "--outcome", "failed"}, []string{"f1"}},
		{"by app, far back", []string{"-n", "1", "--app", "rare"}, []string{"r2"}},
		{"more than stored", []string{"-n", "5", "--app", "rare"}, []string{"r1", "r2"}},
		{"nothing matches", []string{"-n", "3", "--app", "nosuch"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := tailExits(t, append([]string{"tail", "--full-tokens", "-o", "json", "--nats-url", e.url}, tt.args...)...)
			if got := tokensOf(t, out); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("tokens %v, want %v", got, tt.want)
			}
		})
	}
}

// tail --dead -n N shows the last N dead letters; on an empty stream,
// none, and exits.
func TestTailLastDeadLetters(t *testing.T) {
	e := setup(t)
	args := []string{"tail", "--dead", "-n", "2", "-o", "json", "--nats-url", e.url}
	if out := tailExits(t, args...); out != "" {
		t.Fatalf("empty stream: %q", out)
	}
	for i := range 5 {
		b, _ := json.Marshal(events.DeadLetter{Stage: "apns", App: "demo", Reason: fmt.Sprintf("r%d", i), Attempts: 1})
		if _, err := e.js.Publish(context.Background(), events.DeadSubject("apns", "demo"), b); err != nil {
			t.Fatal(err)
		}
	}
	var reasons []string
	for _, line := range strings.Split(strings.TrimSpace(tailExits(t, args...)), "\n") {
		var d events.DeadLetter
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		reasons = append(reasons, d.Reason)
	}
	if strings.Join(reasons, " ") != "r3 r4" {
		t.Fatalf("reasons %v, want r3 r4", reasons)
	}
}

// tail -n N -f shows the last N, then follows new events beyond N.
func TestTailLastThenFollow(t *testing.T) {
	e := setup(t)
	publishTokens(t, e.js, "shop", events.Delivered, "a1", "a2", "a3")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"tail", "-n", "2", "-f", "--full-tokens", "-o", "json", "--nats-url", e.url},
			func(string) string { return "" }, strings.NewReader(""), &out, io.Discard)
	}()
	natstest.Eventually(t, 10*time.Second, func() bool { return strings.Count(out.String(), "\n") == 2 }, "last events: %s", out.String())
	publishTokens(t, e.js, "shop", events.Delivered, "b1", "b2")
	publishTokens(t, e.js, "shop", events.Delivered, "c1")
	natstest.Eventually(t, 10*time.Second, func() bool { return strings.Count(out.String(), "\n") == 5 }, "new events: %s", out.String())
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := tokensOf(t, out.String()); strings.Join(got, " ") != "a2 a3 b1 b2 c1" {
		t.Fatalf("tokens %v", got)
	}
}

// device get of a token without a record explains it once: pushctl's
// wording, not the registry's after it; still a not-found (exit 3).
func TestDeviceNotFoundSaysItOnce(t *testing.T) {
	e := setup(t)
	e.startRegistry(t)
	for _, verb := range []string{"get", "unregister"} {
		_, _, err := runNoEnv(t, "device", verb, "--app", "demo", "--platform", "fcm", "--token", "t:9", "--nats-url", e.url)
		if !errors.Is(err, registryapi.ErrNotFound) || exitCode(err) != exitNotFound {
			t.Fatalf("%s: %v (exit %d), want a not-found", verb, err, exitCode(err))
		}
		msg := err.Error()
		if strings.Count(msg, "no record") != 1 || strings.Count(msg, "invalid or replaced") != 1 || strings.Contains(msg, "404") {
			t.Errorf("%s says it more than once: %q", verb, msg)
		}
	}
}
