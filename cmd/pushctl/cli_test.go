package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/feedback"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/registry"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/registryapi"
)

// runNoEnv runs pushctl with an empty environment: the server must come
// from --nats-url.
func runNoEnv(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	err := run(ctx, args, func(string) string { return "" }, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), err
}

// startRegistry runs the registry service on e's server.
func (e *env) startRegistry(t *testing.T) {
	t.Helper()
	nc, err := nats.Connect(e.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	kv, err := e.js.KeyValue(context.Background(), events.TokensBucket)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := registry.NewService(nc, tokens.NewDevices(e.js, kv), registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
}

// Global flags go before or after the command, flags and arguments in any
// order, before or after a group's verb.
func TestFlagsAndArgumentsInAnyOrder(t *testing.T) {
	e := setup(t)
	e.startRegistry(t)
	if _, _, err := runNoEnv(t, "device", "register", "--app", "demo", "--platform", "fcm", "--token", "t:1", "--nats-url", e.url); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"global before the command", []string{"--nats-url", e.url, "send", "--app", "demo", "--alias", "u", "--title", "t", "--id", "a1"}, "a1"},
		{"global after the command", []string{"send", "--app", "demo", "--alias", "u", "--title", "t", "--id", "a2", "--nats-url", e.url}, "a2"},
		{"global with =", []string{"--nats-url=" + e.url, "-o", "json", "send", "--app=demo", "--alias=u", "--title=t", "--id=a3"}, `"id": "a3"`},
		{"flags before the verb", []string{"device", "--app", "demo", "--nats-url", e.url, "get", "--platform", "fcm", "--token", "t:1"}, `"token": "t:1"`},
		{"flags around the verb", []string{"--nats-url", e.url, "device", "--token", "t:1", "get", "--platform", "fcm", "--app", "demo"}, `"state": "active"`},
		{"output before the command", []string{"-o", "json", "--nats-url", e.url, "device", "get", "--token", "t:1", "--platform", "fcm", "--app", "demo"}, `"state": "active"`},
		{"dead show: seq first", []string{"dead", "show", "1", "--nats-url", e.url}, "BadTopic"},
		{"dead show: seq last", []string{"dead", "--nats-url", e.url, "show", "-o", "json", "1"}, `"seq": 1`},
		{"dead show: after --", []string{"dead", "show", "--nats-url", e.url, "--", "1"}, "BadTopic"},
	}
	d := events.DeadLetter{Stage: "apns", App: "demo", Reason: "BadTopic", Attempts: 1}
	b, _ := json.Marshal(d)
	if _, err := e.js.Publish(context.Background(), events.DeadSubject(d.Stage, d.App), b); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, err := runNoEnv(t, tt.args...)
			if err != nil || !strings.Contains(out, tt.want) {
				t.Fatalf("pushctl %q: %v\n%s%s\nwant %q", tt.args, err, out, errOut, tt.want)
			}
		})
	}
}

// Each command's help lists its own flags and none of the services'.
func TestHelpListsOnlyTheCommandsFlags(t *testing.T) {
	service := []string{"ack-wait", "drain-timeout", "http-addr", "max-attempts", "log-level", "--provision "}
	for _, cmd := range commands() {
		t.Run(cmd.name, func(t *testing.T) {
			out, errOut, err := runNoEnv(t, append(strings.Fields(cmd.name), "-h")...)
			if err != nil || exitCode(err) != exitOK || errOut != "" {
				t.Fatalf("-h: %v %q", err, errOut)
			}
			for _, s := range service {
				if strings.Contains(out, s) {
					t.Errorf("help of %s lists %q:\n%s", cmd.name, s, out)
				}
			}
			if !strings.Contains(out, "usage: pushctl "+cmd.name) || !strings.Contains(out, "--nats-url") {
				t.Errorf("help of %s:\n%s", cmd.name, out)
			}
		})
	}
	out, _, _ := runNoEnv(t, "send", "-h")
	if !strings.Contains(out, "--ttl") || strings.Contains(out, "--dead") {
		t.Errorf("send help:\n%s", out)
	}
	out, _, _ = runNoEnv(t, "provision", "-h")
	if !strings.Contains(out, "--stream-replicas") || !strings.Contains(out, "--feedback-retention") {
		t.Errorf("provision help:\n%s", out)
	}
	out, _, err := runNoEnv(t, "-h")
	for _, s := range []string{"exit codes", "3  not found", "2  invalid input", "completion", "-o, --output"} {
		if err != nil || !strings.Contains(out, s) {
			t.Errorf("pushctl -h lacks %q (%v):\n%s", s, err, out)
		}
	}
}

func TestExitCodes(t *testing.T) {
	e := setup(t)
	e.startRegistry(t)
	down := "nats://127.0.0.1:1"
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, exitUsage, "a command is required"},
		{"unknown command", []string{"bogus"}, exitUsage, `unknown command "bogus"`},
		{"unknown verb", []string{"device", "bogus"}, exitUsage, `unknown verb "bogus"`},
		{"unknown flag", []string{"tail", "--bogus"}, exitUsage, "bogus"},
		{"unknown global flag", []string{"--bogus", "tail"}, exitUsage, "bogus"},
		{"bad output", []string{"tail", "-o", "yaml", "--nats-url", e.url}, exitUsage, `-o "yaml"`},
		{"send without app", []string{"send", "--platform", "fcm", "--token", "t", "--nats-url", e.url}, exitUsage, "--app is required"},
		{"negative ttl", []string{"send", "--app", "demo", "--platform", "fcm", "--token", "t", "--ttl", "-5s", "--nats-url", e.url}, exitUsage, "--ttl -5s"},
		{"invalid intent", []string{"send", "--app", "demo", "--platform", "wns", "--token", "t", "--title", "x", "--nats-url", e.url}, exitUsage, "platform"},
		{"cancel without app", []string{"cancel", "x", "--nats-url", e.url}, exitUsage, "--app is required"},
		{"cancel without id", []string{"cancel", "--app", "demo", "--nats-url", e.url}, exitUsage, "usage"},
		{"cancel two ids", []string{"cancel", "--app", "demo", "a", "b", "--nats-url", e.url}, exitUsage, "unexpected"},
		{"device get without app", []string{"device", "get", "--platform", "fcm", "--token", "t", "--nats-url", e.url}, exitUsage, "--app is required"},
		{"dead replay unknown stage", []string{"dead", "replay", "--stage", "nosuch", "--nats-url", e.url}, exitUsage, `unknown stage "nosuch"`},
		{"dead show not a number", []string{"dead", "show", "x", "--nats-url", e.url}, exitUsage, "not a sequence"},
		{"dead purge without filter", []string{"dead", "purge", "--nats-url", e.url}, exitUsage, "--all"},
		{"completion of fish", []string{"completion", "fish"}, exitUsage, "fish"},
		{"device get unknown", []string{"device", "get", "--app", "demo", "--platform", "fcm", "--token", "t:9", "--nats-url", e.url}, exitNotFound, "no record"},
		{"device unregister unknown", []string{"device", "unregister", "--app", "demo", "--platform", "fcm", "--token", "t:9", "--nats-url", e.url}, exitNotFound, "no record"},
		{"cancel unknown", []string{"cancel", "--app", "demo", "nope", "--nats-url", e.url}, exitNotFound, "no scheduled intent"},
		{"dead show unknown", []string{"dead", "show", "999", "--nats-url", e.url}, exitNotFound, "999"},
		{"server down", []string{"dead", "list", "--nats-url", down}, exitError, "no servers"},
		{"ok", []string{"dead", "list", "--nats-url", e.url}, exitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runNoEnv(t, tt.args...)
			if got := exitCode(err); got != tt.code || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("pushctl %q: exit %d (%v), want %d naming %q", tt.args, got, err, tt.code, tt.want)
			}
		})
	}
}

// device get of a token without a record says which tokens have one.
func TestDeviceGetWithoutRecordSaysWhatIsKnown(t *testing.T) {
	e := setup(t)
	e.startRegistry(t)
	_, _, err := runNoEnv(t, "device", "get", "--app", "demo", "--platform", "apns", "--token", "ab01", "--nats-url", e.url)
	if !errors.Is(err, registryapi.ErrNotFound) || exitCode(err) != exitNotFound {
		t.Fatalf("err %v, want a not-found", err)
	}
	for _, s := range []string{`no record for apns token "ab01" of app demo`, "registered", "invalid or replaced", "only delivered to has none",
		"pushctl tail --app demo --platform apns"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
}

// Every command answers JSON with -o json.
func TestJSONOutput(t *testing.T) {
	e := setup(t)
	e.startRegistry(t)
	ctx := context.Background()
	publishFeedback(t, e.js, 3)
	d := events.DeadLetter{Stage: "intents", App: "demo", Reason: "bad", Attempts: 1, Subject: events.IntentSubject("demo"),
		Payload: json.RawMessage(`{"app":"demo"}`)}
	b, _ := json.Marshal(d)
	if _, err := e.js.Publish(ctx, events.DeadSubject(d.Stage, d.App), b); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		lines bool // one JSON object per line
		check func(map[string]any) bool
	}{
		{"send", []string{"send", "--app", "demo", "--alias", "u", "--title", "t", "--id", "j1"}, false,
			func(m map[string]any) bool { return m["id"] == "j1" && m["duplicate"] == false }},
		{"device register", []string{"device", "register", "--app", "demo", "--platform", "mi", "--token", "r1", "--tag", "b"}, false,
			func(m map[string]any) bool { return m["state"] == "active" }},
		{"device list", []string{"device", "list", "--app", "demo", "--tag", "b"}, false,
			func(m map[string]any) bool { return len(m["devices"].([]any)) == 1 }},
		{"device stats", []string{"device", "stats", "--app", "demo"}, false,
			func(m map[string]any) bool { return m["total"] == 1.0 }},
		{"tail", []string{"tail", "--since", "1h"}, true,
			func(m map[string]any) bool { return m["outcome"] == "delivered" }},
		{"tail dead", []string{"tail", "--dead", "--since", "1h"}, true,
			func(m map[string]any) bool { return m["stage"] == "intents" }},
		{"dead list", []string{"dead", "list"}, true,
			func(m map[string]any) bool { return m["seq"] == 1.0 }},
		{"dead replay", []string{"dead", "replay", "--keep"}, false,
			func(m map[string]any) bool { return len(m["replayed"].([]any)) == 1 }},
		{"dead purge", []string{"dead", "purge", "--all"}, false,
			func(m map[string]any) bool { return m["purged"] == 1.0 }},
		{"device unregister", []string{"device", "unregister", "--app", "demo", "--platform", "mi", "--token", "r1"}, false,
			func(m map[string]any) bool { return m["removed"] == true }},
		{"provision", []string{"provision"}, false,
			func(m map[string]any) bool { return len(m["streams"].([]any)) > 3 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, err := runNoEnv(t, append(tt.args, "-o", "json", "--nats-url", e.url)...)
			if err != nil {
				t.Fatalf("%v\n%s%s", err, out, errOut)
			}
			docs := []string{out}
			if tt.lines {
				docs = strings.Split(strings.TrimSpace(out), "\n")
			}
			for _, doc := range docs {
				var m map[string]any
				if err := json.Unmarshal([]byte(doc), &m); err != nil || !tt.check(m) {
					t.Fatalf("output %q: %v", doc, err)
				}
			}
		})
	}
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh"} {
		out, _, err := runNoEnv(t, "completion", shell)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"complete -F _pushctl pushctl", `"device get") words="--app --platform --token`, "--follow", "replay", "--stream-replicas"} {
			if !strings.Contains(out, s) {
				t.Errorf("%s completion lacks %q", shell, s)
			}
		}
		if strings.Contains(out, "ack-wait") {
			t.Errorf("%s completion offers a service flag", shell)
		}
		if shell == "bash" {
			if bash, err := exec.LookPath("bash"); err == nil {
				cmd := exec.Command(bash, "-n")
				cmd.Stdin = strings.NewReader(out)
				if b, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("bash -n: %v\n%s", err, b)
				}
			}
		}
	}
}

// publishFeedback stores n delivered events of app demo as the senders
// do: in the batch form, one message per job of up to 100 tokens.
func publishFeedback(t testing.TB, js jetstream.JetStream, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := feedback.NewPublisher(js)
	fbs := make([]events.Feedback, 0, 100)
	for i := range n {
		fbs = append(fbs, events.Feedback{App: "demo", Platform: events.FCM, Token: fmt.Sprintf("tok:%d", i), Outcome: events.Delivered,
			IntentID: "i", At: time.Now().UTC()})
		if len(fbs) == cap(fbs) || i == n-1 {
			if err := p.Publish(ctx, fbs); err != nil {
				t.Fatal(err)
			}
			fbs = fbs[:0]
		}
	}
}

// tail --since shows what exists and ends cleanly, even with fewer events
// than -n (before: "nats: timeout", exit 1, after waiting).
func TestTailEndsWhenItHasShownWhatExists(t *testing.T) {
	e := setup(t)
	publishFeedback(t, e.js, 3)
	tests := []struct {
		name  string
		args  []string
		lines int
	}{
		{"fewer than -n", []string{"tail", "--since", "1m", "-n", "10"}, 3},
		{"-n reached", []string{"tail", "--since", "1m", "-n", "2"}, 2},
		{"no -n", []string{"tail", "--since", "1m"}, 3},
		{"nothing matches", []string{"tail", "--since", "1m", "--app", "other"}, 0},
		{"outcome filter", []string{"tail", "--since", "1m", "--outcome", "failed"}, 0},
		{"no dead letters", []string{"tail", "--dead", "--since", "1h"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			out, errOut, err := runNoEnv(t, append(tt.args, "--nats-url", e.url)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, errOut)
			}
			if got := strings.Count(out, "\n"); got != tt.lines {
				t.Fatalf("%d lines, want %d:\n%s", got, tt.lines, out)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
}

// tail prints feedback per token: each event of a batch on its line, the
// filters and -n applied per event, the confirmation service's subject
// included when filtering by app or platform, and an event in the single
// form of earlier versions shown alike.
func TestTailShowsEachTokenOfABatch(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	at := time.Now().UTC()
	ev := func(token string, o events.Outcome) events.Feedback {
		return events.Feedback{App: "shop", Platform: events.APNs, Token: token, Outcome: o, IntentID: "i", At: at}
	}
	if err := feedback.NewPublisher(e.js).Publish(ctx, []events.Feedback{ev("aa", events.Delivered),
		ev("bb", events.InvalidToken), ev("cc", events.Failed), ev("dd", events.Confirmed)}); err != nil {
		t.Fatal(err)
	}
	single, _ := json.Marshal(ev("ee", events.Delivered))
	if _, err := e.js.Publish(ctx, events.FeedbackSubject(events.APNs, "shop"), single); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []string // tokens shown, in stream order
	}{
		{"all", nil, []string{"aa", "bb", "cc", "dd", "ee"}},
		{"by outcome", []string{"--outcome", "invalid_token"}, []string{"bb"}},
		{"confirmations", []string{"--outcome", "confirmed"}, []string{"dd"}},
		{"by app and platform", []string{"--app", "shop", "--platform", "apns"}, []string{"aa", "bb", "cc", "dd", "ee"}},
		{"-n inside a batch", []string{"-n", "1"}, []string{"aa"}},
		{"another app", []string{"--app", "demo"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"tail", "--since", "1m", "--full-tokens", "-o", "json", "--nats-url", e.url}, tt.args...)
			out, errOut, err := runNoEnv(t, args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, errOut)
			}
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if line == "" {
					continue
				}
				var f events.Feedback
				if err := json.Unmarshal([]byte(line), &f); err != nil || f.App != "shop" || f.Platform != events.APNs {
					t.Fatalf("line %q: %v", line, err)
				}
				got = append(got, f.Token)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("tokens %v, want %v", got, tt.want)
			}
		})
	}
}

// syncBuffer is a buffer written by a running tail and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tail -f keeps waiting without traffic and survives a server restart,
// showing the events published after it.
func TestTailFollowSurvivesARestart(t *testing.T) {
	srv := natstest.StartServer(t)
	pub := func(token string) {
		t.Helper()
		nc, err := nats.Connect(srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := streams.Provision(ctx, js, streams.Config{}); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(events.Feedback{App: "demo", Platform: events.APNs, Token: token, Outcome: events.Delivered, At: time.Now()})
		if _, err := js.Publish(ctx, events.FeedbackSubject(events.APNs, "demo"), b); err != nil {
			t.Fatal(err)
		}
	}
	pub("before")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"tail", "-f", "--full-tokens", "--nats-url", srv.URL()}, func(string) string { return "" },
			strings.NewReader(""), &out, &errb)
	}()
	time.Sleep(500 * time.Millisecond) // the consumer is up
	pub("first")
	natstest.Eventually(t, 10*time.Second, func() bool { return strings.Contains(out.String(), "token=first") }, "first event not shown: %s", out.String())
	srv.Shutdown()
	time.Sleep(2 * time.Second)
	select {
	case err := <-done:
		t.Fatalf("tail -f ended while the server was down: %v\n%s", err, errb.String())
	default:
	}
	srv.Restart(t)
	pub("second")
	natstest.Eventually(t, 30*time.Second, func() bool { return strings.Contains(out.String(), "token=second") },
		"event after the restart not shown:\n%s\n%s", out.String(), errb.String())
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("tail -f ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tail -f did not stop when cancelled")
	}
	if strings.Contains(out.String(), "token=before") || strings.Count(out.String(), "token=first") != 1 {
		t.Fatalf("output:\n%s", out.String())
	}
}

// countWriter counts lines.
type countWriter struct{ n int }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += bytes.Count(p, []byte{'\n'})
	return len(p), nil
}

// tail reads in large batches: it reports its rate (aim: well above
// 20,000 events/s; before, one round trip per event, ~350/s).
func TestTailRate(t *testing.T) {
	e := setup(t)
	const n = 50_000
	publishFeedback(t, e.js, n)
	var w countWriter
	start := time.Now()
	err := run(context.Background(), []string{"tail", "--since", "1h", "--nats-url", e.url}, func(string) string { return "" },
		strings.NewReader(""), &w, io.Discard)
	d := time.Since(start)
	if err != nil || w.n != n {
		t.Fatalf("tail: %v, %d lines, want %d", err, w.n, n)
	}
	t.Logf("tail read %d events in %v: %.0f events/s", n, d, float64(n)/d.Seconds())
}

func BenchmarkTail(b *testing.B) {
	srv := natstest.RunServer(b)
	_, js := natstest.Connect(b, srv)
	if err := streams.Provision(context.Background(), js, streams.Config{}); err != nil {
		b.Fatal(err)
	}
	const n = 20_000
	publishFeedback(b, js, n)
	b.ResetTimer()
	for range b.N {
		var w countWriter
		if err := run(context.Background(), []string{"tail", "--since", "1h", "--nats-url", srv.ClientURL()},
			func(string) string { return "" }, strings.NewReader(""), &w, io.Discard); err != nil || w.n != n {
			b.Fatalf("%v, %d lines", err, w.n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}

// tail -f --since shows the existing events, then follows new ones.
func TestTailFollowSinceShowsThenFollows(t *testing.T) {
	e := setup(t)
	publishFeedback(t, e.js, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"tail", "--nats-url", e.url, "--since", "1h", "-o", "json", "--follow"}, func(string) string { return "" },
			strings.NewReader(""), &out, io.Discard)
	}()
	natstest.Eventually(t, 10*time.Second, func() bool { return strings.Count(out.String(), "\n") == 2 }, "existing events: %s", out.String())
	publishFeedback(t, e.js, 1)
	natstest.Eventually(t, 10*time.Second, func() bool { return strings.Count(out.String(), "\n") == 3 }, "new event: %s", out.String())
	select {
	case err := <-done:
		t.Fatalf("tail -f ended: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// The server comes from --nats-url, else PUSHFLEET_NATS_URL, else NATS_URL
// (the nats CLI's); a command's own flags never come from the environment.
func TestGlobalsFromTheEnvironment(t *testing.T) {
	e := setup(t)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		ok   bool
	}{
		{"PUSHFLEET_NATS_URL", map[string]string{"PUSHFLEET_NATS_URL": e.url}, nil, true},
		{"NATS_URL", map[string]string{"NATS_URL": e.url}, nil, true},
		{"PUSHFLEET_NATS_URL wins", map[string]string{"PUSHFLEET_NATS_URL": e.url, "NATS_URL": "nats://127.0.0.1:1"}, nil, true},
		{"the flag wins", map[string]string{"PUSHFLEET_NATS_URL": "nats://127.0.0.1:1"}, []string{"--nats-url", e.url}, true},
		{"no server", map[string]string{"NATS_URL": "nats://127.0.0.1:1"}, nil, false},
		{"PUSHFLEET_ALL is not --all", map[string]string{"NATS_URL": e.url, "PUSHFLEET_ALL": "true"}, []string{"purge"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"dead"}, tt.args...)
			if len(tt.args) == 0 || tt.args[0] != "purge" {
				args = append(args, "list")
			}
			var out bytes.Buffer
			err := run(context.Background(), args, func(k string) string { return tt.env[k] }, strings.NewReader(""), &out, io.Discard)
			if (err == nil) != tt.ok {
				t.Fatalf("pushctl %q: %v\n%s", args, err, out.String())
			}
		})
	}
}

// --version works like every binary's, wherever it stands.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"tail", "--version"}} {
		out, _, err := runNoEnv(t, args...)
		if err != nil || !strings.HasPrefix(out, "pushctl ") {
			t.Errorf("pushctl %v: %q, %v", args, out, err)
		}
	}
}

// pushctl provision --platforms creates a custom channel's streams, as an
// admin does before its sender runs with --provision=false.
func TestProvisionDeclaresCustomPlatforms(t *testing.T) {
	e := setup(t)
	if _, err := e.run(t, "", "provision", "--nats-url", e.url, "--platforms", "smsgw"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"PUSH_SEND_SMSGW", "PUSH_RETRY_SMSGW"} {
		if _, err := e.js.Stream(context.Background(), name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
