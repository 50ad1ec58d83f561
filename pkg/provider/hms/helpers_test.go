package hms_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/hms"
	"github.com/pushfleet/pushfleet/pkg/provider/hms/hmsfake"
)

const testApp = "demo"

func startFake(tb testing.TB, opts hmsfake.Options) *hmsfake.Server {
	tb.Helper()
	f, err := hmsfake.Start(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(f.Close)
	return f
}

func newSender(tb testing.TB, f *hmsfake.Server, tune func(*hms.Config), apps map[string]hms.AppConfig) *hms.Sender {
	tb.Helper()
	cfg := f.SenderConfig()
	if tune != nil {
		tune(&cfg)
	}
	s, err := hms.New(cfg, apps)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// setup starts a fake and a Sender with one app configured against it.
func setup(tb testing.TB, opts hmsfake.Options, tune func(*hms.Config)) (*hms.Sender, *hmsfake.Server) {
	tb.Helper()
	f := startFake(tb, opts)
	return newSender(tb, f, tune, map[string]hms.AppConfig{testApp: f.SandboxApp()}), f
}

// token returns the i-th distinct well-formed Push Kit token (they are
// opaque; real ones look like this, base64-ish with a region suffix).
func token(i int) string { return fmt.Sprintf("IQAAAACy0kYdAAD%08dWFq+x/bN3rT-CN01", i) }

func tokens(from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = token(from + i)
	}
	return out
}

func testJob(toks ...string) *events.Job {
	return &events.Job{
		ID: "job-1", IntentID: "intent-1", App: testApp, Platform: hms.Platform, Tokens: toks,
		Notification: events.Notification{Title: "Hello", Body: "World", Data: map[string]any{"k": "v"}},
		CreatedAt:    time.Now(),
	}
}
