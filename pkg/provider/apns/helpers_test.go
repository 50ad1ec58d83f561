package apns_test

import (
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
	"github.com/pushfleet/pushfleet/pkg/provider/apns/apnsfake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

const (
	testApp   = "demo"
	testTopic = "com.example.demo"
)

// fixture is a fake APNs and a sender with one app configured against it.
type fixture struct {
	fake   *apnsfake.Server
	sender *apns.Sender
	app    apns.AppConfig
	cfg    apns.Config
}

// newFixture starts a fake and a sender; tune may adjust the sender config.
func newFixture(t testing.TB, opts apnsfake.Options, tune func(*apns.Config)) *fixture {
	t.Helper()
	fake, err := apnsfake.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	app, err := fake.SandboxApp(testTopic)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fake.Config()
	cfg.Logger = testLogger()
	if tune != nil {
		tune(&cfg)
	}
	s, err := apns.New(cfg, map[string]apns.AppConfig{testApp: app})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &fixture{fake: fake, sender: s, app: app, cfg: cfg}
}

// testLogger discards logs unless APNS_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("APNS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// token is the i-th distinct well-formed device token (64 hex digits, never
// starting with the fake's dead prefix).
func token(i int) string { return fmt.Sprintf("a1%062x", i) }

func tokens(from, n int) []string {
	ts := make([]string, n)
	for i := range ts {
		ts[i] = token(from + i)
	}
	return ts
}

func newJob(app string, toks ...string) *events.Job {
	return &events.Job{
		ID: "job-1", IntentID: "intent-1", App: app, Platform: events.APNs, Tokens: toks,
		Notification: events.Notification{Title: "hello", Body: "world"},
		CreatedAt:    time.Now(),
	}
}

func send(t testing.TB, s *apns.Sender, job *events.Job) []provider.Result {
	t.Helper()
	return providertest.Send(t, s, job, 20*time.Second)
}
