package tokens_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
)

func TestCacheNotReadyBeforeRun(t *testing.T) {
	e := newEnv(t, jetstream.MemoryStorage)
	c := tokens.NewCache(e.kv, tokens.CacheConfig{})
	if c.Ready() || c.Suppressed(app, events.APNs, "aa") || len(c.Stats("")) != 0 {
		t.Fatal("a cache that never ran claims to know something")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := c.WaitReady(ctx); err == nil {
		t.Fatal("WaitReady returned without a snapshot")
	}
}

// A token marked invalid by an applied feedback event is suppressed
// shortly after, driven by the watch; registering it again lifts that.
func TestCacheSuppressesTokenInvalidatedByFeedback(t *testing.T) {
	e := newEnv(t, jetstream.FileStorage)
	ctx := ctxT(t)
	// Known before the cache starts: part of the initial snapshot.
	register(t, e.reg, tokens.Device{Platform: events.APNs, Token: "aa01"})
	if _, err := e.reg.Store().Apply(ctx, &events.Feedback{App: app, Platform: events.APNs, Token: "aa01",
		Outcome: events.InvalidToken, At: time.Now().Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	register(t, e.reg, tokens.Device{Platform: events.FCM, Token: "f:1"})
	c := e.runCache(t)
	if !c.Suppressed(app, events.APNs, "aa01") || c.Suppressed(app, events.FCM, "f:1") {
		t.Fatal("initial snapshot: wrong suppression")
	}

	if _, err := e.reg.Store().Apply(ctx, &events.Feedback{App: app, Platform: events.FCM, Token: "f:1",
		Outcome: events.InvalidToken, Reason: "UNREGISTERED", At: time.Now().Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	natstest.Eventually(t, 2*time.Second, func() bool { return c.Suppressed(app, events.FCM, "f:1") }, "invalidated token suppressed")
	t.Logf("suppressed %v after the feedback was applied", time.Since(start))
	if c.Suppressed("other", events.FCM, "f:1") || c.Suppressed(app, events.Mi, "f:1") {
		t.Fatal("suppression leaks across apps or platforms")
	}

	time.Sleep(5 * time.Millisecond) // a registration strictly after the event's time
	register(t, e.reg, tokens.Device{Platform: events.FCM, Token: "f:1"})
	natstest.Eventually(t, 2*time.Second, func() bool { return !c.Suppressed(app, events.FCM, "f:1") }, "re-registered token no longer suppressed")
	if err := e.reg.Unregister(ctx, app, events.APNs, "aa01"); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 2*time.Second, func() bool { return !c.Suppressed(app, events.APNs, "aa01") }, "unregistered token forgotten")
}

func TestCacheStatsMatchScan(t *testing.T) {
	e := newEnv(t, jetstream.MemoryStorage)
	ctx := ctxT(t)
	c := e.runCache(t)
	for i := range 6 {
		register(t, e.reg, tokens.Device{Platform: events.APNs, Token: fmt.Sprint("a", i)})
	}
	register(t, e.reg, tokens.Device{Platform: events.FCM, Token: "f:1"})
	register(t, e.reg, tokens.Device{App: "other", Platform: events.Mi, Token: "m1"})
	for _, f := range []*events.Feedback{
		{App: app, Platform: events.APNs, Token: "a0", Outcome: events.InvalidToken, At: time.Now().Add(time.Second)},
		{App: app, Platform: events.APNs, Token: "a1", Outcome: events.TokenReplaced, NewToken: "a9", At: time.Now()},
	} {
		if _, err := e.reg.Store().Apply(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.reg.Unregister(ctx, app, events.APNs, "a2"); err != nil {
		t.Fatal(err)
	}
	want := tokens.Stats{
		{App: app, Platform: events.APNs, State: tokens.Active, Devices: 4}, // a3 a4 a5 a9
		{App: app, Platform: events.APNs, State: tokens.Invalid, Devices: 1},
		{App: app, Platform: events.APNs, State: tokens.Retired, Devices: 1},
		{App: app, Platform: events.FCM, State: tokens.Active, Devices: 1},
		{App: "other", Platform: events.Mi, State: tokens.Active, Devices: 1},
	}
	scanned, err := e.reg.Stats(ctx, "")
	if err != nil || fmt.Sprint(scanned) != fmt.Sprint(want) {
		t.Fatalf("scanned stats %v (%v), want %v", scanned, err, want)
	}
	natstest.Eventually(t, 2*time.Second, func() bool { return fmt.Sprint(c.Stats("")) == fmt.Sprint(want) },
		"cache stats %v, want %v", c.Stats(""), want)
	if got := c.Stats("other"); got.Total() != 1 {
		t.Fatalf("stats of one app: %v", got)
	}
	if got, _ := e.reg.Stats(ctx, app); got.Total() != 7 {
		t.Fatalf("scanned stats of one app: %v", got)
	}
}

// Delivered events for tokens without a record cost no KV read once the
// cache is ready; known active tokens still get their last-success time.
func TestTouchSuccessSkipsUnknownTokensWithCache(t *testing.T) {
	e := newEnv(t, jetstream.MemoryStorage)
	ctx := ctxT(t)
	counting := &countingKV{KeyValue: e.kv}
	store := tokens.NewStore(counting)
	register(t, e.reg, tokens.Device{Platform: events.APNs, Token: "aa01"})
	c := e.runCache(t)
	store.UseCache(c)

	at := time.Now()
	for i := range 100 {
		if err := store.TouchSuccess(ctx, app, events.FCM, fmt.Sprint("unknown:", i), at); err != nil {
			t.Fatal(err)
		}
	}
	if n := counting.gets.Load(); n != 0 {
		t.Fatalf("%d KV reads for unknown tokens, want 0", n)
	}
	if err := store.TouchSuccess(ctx, app, events.APNs, "aa01", at); err != nil {
		t.Fatal(err)
	}
	rec, _ := e.reg.Get(ctx, app, events.APNs, "aa01")
	if rec.LastSuccess == nil || !rec.LastSuccess.Equal(at.UTC()) {
		t.Fatalf("last success of a known token = %v, want %v", rec.LastSuccess, at)
	}
	if _, _, err := store.Get(ctx, app, events.FCM, "unknown:1"); err == nil {
		t.Fatal("a delivered event created a record for an unknown token")
	}
}
