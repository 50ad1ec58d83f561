package allinone

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/sandbox"
	"github.com/pushfleet/pushfleet/internal/sink"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// The fleet against the sandbox providers: every token reaches its fake
// provider exactly once, and dead tokens end up invalid in the KV bucket.
func TestFleetAgainstSandboxProviders(t *testing.T) {
	srv := natstest.RunServer(t)
	nc, _ := natstest.Connect(t, srv)
	js, err := fleet.NewJetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := streams.Provision(ctx, js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	env := &fleet.Env{NC: nc, JS: js, Metrics: m, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), DrainTimeout: 5 * time.Second}
	sb, err := startSandbox(m.Provider)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.close()
	var g fleet.Group
	d, err := env.Dispatcher(ctx, config.Dispatcher{})
	if err != nil {
		t.Fatal(err)
	}
	sk, err := env.FeedbackSink(ctx, config.Sink{Sink: sink.Config{FlushInterval: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	g = append(g, d, sk)
	for _, p := range events.Platforms {
		s, err := env.SenderService(p, sb.senders[p], config.SenderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		g = append(g, s)
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()

	const perPlatform = 30
	var live, dead []events.Target
	pub := events.NewPublisher(js)
	for i := range perPlatform {
		// One intent per i with a token on each platform; every 5th is dead.
		var targets []events.Target
		for _, p := range events.Platforms {
			tg := events.Target{Platform: p, Token: sb.Token(p, i, i%5 == 4)}
			targets = append(targets, tg)
			if i%5 == 4 {
				dead = append(dead, tg)
			} else {
				live = append(live, tg)
			}
		}
		in := &events.Intent{ID: fmt.Sprintf("it-%d", i), App: sandbox.App, Targets: events.Targets{Tokens: targets},
			Notification: events.Notification{Title: "t", Body: "b", Data: map[string]any{"i": i}}}
		if _, err := pub.Publish(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	natstest.Eventually(t, 20*time.Second, func() bool {
		for _, tg := range live {
			if sb.Delivered(tg) == 0 {
				return false
			}
		}
		return true
	}, "every live token delivered")
	kv, err := js.KeyValue(ctx, events.TokensBucket)
	if err != nil {
		t.Fatal(err)
	}
	store := tokens.NewStore(kv)
	natstest.Eventually(t, 20*time.Second, func() bool {
		for _, tg := range dead {
			r, _, err := store.Get(ctx, sandbox.App, tg.Platform, tg.Token)
			if err != nil || r.State != tokens.Invalid {
				return false
			}
		}
		return true
	}, "every dead token recorded invalid")
	for _, tg := range live {
		if n := sb.Delivered(tg); n != 1 {
			t.Errorf("%s token %s delivered %d times, want 1", tg.Platform, tokens.Short(tg.Token), n)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// The --demo path as a user runs it: embedded server, sandbox providers,
// a summary that accounts for every notification.
func TestDemoAccountsForEveryNotification(t *testing.T) {
	var out bytes.Buffer
	o := Options{DataDir: t.TempDir(), Demo: 150, Stdout: &out, Stderr: io.Discard,
		DemoConfig: DemoConfig{Timeout: time.Minute}}
	o.Common.HTTPAddr = "127.0.0.1:0"
	o.Common.LogLevel = "info"
	o.Common.DrainTimeout = 5 * time.Second
	if err := Run(context.Background(), o); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{"every notification accounted for", "invalid tokens recorded in push_tokens: 15 of 15", "suppressed before reaching a provider: 15 of 15"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	// Five platforms, five rows, each with sends delivered.
	for _, p := range events.Platforms {
		if !regexp.MustCompile(`(?m)^  ` + string(p) + ` +30 +27 +3 `).MatchString(out.String()) {
			t.Errorf("summary has no row for %s with 30 sent:\n%s", p, out.String())
		}
	}
}
