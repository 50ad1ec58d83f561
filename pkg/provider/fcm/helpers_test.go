package fcm_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm/fcmfake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

// startFake starts a fake that is closed when the test ends.
func startFake(t testing.TB, opts fcmfake.Options) *fcmfake.Server {
	t.Helper()
	f, err := fcmfake.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

// sandboxApp registers project in the fake and returns an app for it.
func sandboxApp(t testing.TB, f *fcmfake.Server, app, project string) fcm.AppConfig {
	t.Helper()
	ac, err := f.SandboxApp(app, project)
	if err != nil {
		t.Fatal(err)
	}
	return ac
}

// slowBatchTimeout bounds the batches of tests whose faults the SDK does not
// retry itself (500, 429): hundreds of requests can take more than the
// default 2 s on a loaded machine under -race.
const slowBatchTimeout = 20 * time.Second

// newSender returns a sender against f, closed when the test ends. Its
// BatchTimeout is short so the SDK's own ~7 s retry loop never dominates.
func newSender(t testing.TB, f *fcmfake.Server, cfg fcm.Config, apps map[string]fcm.AppConfig) *fcm.Sender {
	t.Helper()
	if cfg.BatchTimeout == 0 {
		cfg.BatchTimeout = 2 * time.Second
	}
	s, err := fcm.New(f.SenderConfig(cfg), apps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// token is the i-th well-formed registration token.
func token(i int) string {
	return fmt.Sprintf("c%07d:APA91b%s", i, strings.Repeat("Xy_-", 8))
}

func tokens(from, n int) []string {
	ts := make([]string, n)
	for i := range ts {
		ts[i] = token(from + i)
	}
	return ts
}

func newJob(app string, toks ...string) *events.Job {
	return &events.Job{
		ID: "job-" + app, IntentID: "intent", App: app, Platform: events.FCM, Tokens: toks,
		Notification: events.Notification{Title: "hello", Body: "world", Data: map[string]any{"k": "v"}},
		CreatedAt:    time.Now(),
	}
}

// send sends j and checks the results line up with its tokens.
func send(t testing.TB, s *fcm.Sender, j *events.Job, timeout time.Duration) []provider.Result {
	t.Helper()
	return providertest.Send(t, s, j, timeout)
}

func countKinds(rs []provider.Result) map[provider.Kind]int {
	m := map[provider.Kind]int{}
	for _, r := range rs {
		m[r.Kind]++
	}
	return m
}
