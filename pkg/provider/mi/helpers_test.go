package mi_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/mi"
	"github.com/pushfleet/pushfleet/pkg/provider/mi/mifake"
)

const testApp = "demo"

// setup starts a fake and a Sender with one app configured against it.
func setup(tb testing.TB, opts mifake.Options, tune func(*mi.Config)) (*mi.Sender, *mifake.Server) {
	tb.Helper()
	fake, err := mifake.Start(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(fake.Close)
	cfg := fake.SenderConfig()
	if tune != nil {
		tune(&cfg)
	}
	s, err := mi.New(cfg, map[string]mi.AppConfig{testApp: fake.SandboxApp("com.example.demo")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s, fake
}

// regid returns the i-th distinct well-formed regid (base64-like, with the
// characters that need form escaping).
func regid(i int) string { return fmt.Sprintf("a1B2/c3D+%08d=", i) }

func regids(from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = regid(from + i)
	}
	return out
}

func testJob(tokens ...string) *events.Job {
	return &events.Job{
		ID: "job-1", IntentID: "intent-1", App: testApp, Platform: events.Mi, Tokens: tokens,
		Notification: events.Notification{Title: "Hello", Body: "World", Data: map[string]any{"k": "v"}},
		CreatedAt:    time.Now(),
	}
}
