package tokens_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/dispatch"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// The registry plugs into the dispatcher.
var (
	_ dispatch.Audience   = (*tokens.Devices)(nil)
	_ dispatch.Suppressor = (*tokens.Cache)(nil)
)

const app = "demo"

// env is one test's server and push_tokens bucket.
type env struct {
	js  jetstream.JetStream
	kv  jetstream.KeyValue
	reg *tokens.Devices
}

func newEnv(t testing.TB, storage jetstream.StorageType) *env {
	t.Helper()
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv)
	kv, err := streams.CreateTokens(context.Background(), js, streams.Config{Storage: storage})
	if err != nil {
		t.Fatal(err)
	}
	return &env{js: js, kv: kv, reg: tokens.NewDevices(js, kv)}
}

// runCache starts a cache on e's bucket and waits until it is ready.
func (e *env) runCache(t testing.TB) *tokens.Cache {
	t.Helper()
	c := tokens.NewCache(e.kv, tokens.CacheConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("cache run: %v", err)
		}
	})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := c.WaitReady(wctx); err != nil {
		t.Fatalf("cache not ready: %v", err)
	}
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func register(t testing.TB, r *tokens.Devices, d tokens.Device) *tokens.Record {
	t.Helper()
	if d.App == "" {
		d.App = app
	}
	rec, err := r.Register(ctxT(t), d)
	if err != nil {
		t.Fatalf("register %s/%s: %v", d.Platform, d.Token, err)
	}
	return rec
}

// resolve collects an audience, checking batch sizes.
func resolve(t testing.TB, r *tokens.Devices, tg events.Targets, batch int) []events.Target {
	t.Helper()
	var got []events.Target
	err := r.Resolve(ctxT(t), app, tg, batch, func(ts []events.Target) error {
		if len(ts) == 0 || len(ts) > batch {
			t.Errorf("batch of %d targets, want 1..%d", len(ts), batch)
		}
		got = append(got, ts...)
		return nil
	})
	if err != nil {
		t.Fatalf("resolve %+v: %v", tg, err)
	}
	return sorted(got)
}

// listAll pages through a listing.
func listAll(t testing.TB, r *tokens.Devices, k tokens.Kind, name string, limit int) []events.Target {
	t.Helper()
	var all []events.Target
	page := tokens.Page{Limit: limit}
	for range 10000 {
		m, err := r.List(ctxT(t), app, k, name, page)
		if err != nil {
			t.Fatalf("list %s %s: %v", k, name, err)
		}
		all = append(all, m.Devices...)
		if m.Next == "" {
			return sorted(all)
		}
		page.Cursor = m.Next
	}
	t.Fatal("listing never ended")
	return nil
}

func sorted(ts []events.Target) []events.Target {
	slices.SortFunc(ts, func(a, b events.Target) int {
		return cmp.Or(cmp.Compare(a.Platform, b.Platform), cmp.Compare(a.Token, b.Token))
	})
	return ts
}

func targets(ts ...events.Target) []events.Target { return sorted(ts) }

func tg(p events.Platform, tok string) events.Target { return events.Target{Platform: p, Token: tok} }

func equalTargets(a, b []events.Target) bool { return slices.Equal(a, b) }

// fillTag writes n index entries under a tag straight to the bucket's
// subjects (the KV wire protocol), far faster than n registrations; it
// returns the number written. Tokens look like FCM registration tokens.
func fillTag(t testing.TB, js jetstream.JetStream, tag string, n int) {
	t.Helper()
	ctx := ctxT(t)
	for i := range n {
		tok := fcmToken(i)
		subj := "$KV." + events.TokensBucket + "." + tokens.IndexKey(app, tokens.TagIndex, tag, events.FCM, tok)
		if _, err := js.PublishAsync(subj, []byte(tok)); err != nil {
			t.Fatal(err)
		}
		if i%4096 == 4095 {
			waitAsync(t, ctx, js)
		}
	}
	waitAsync(t, ctx, js)
}

func waitAsync(t testing.TB, ctx context.Context, js jetstream.JetStream) {
	t.Helper()
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		t.Fatal("async publishes not acknowledged")
	}
}

// fcmToken is a token shaped like an FCM registration token (~163 bytes).
func fcmToken(i int) string {
	return fmt.Sprintf("d%07d:APA91bH%0150d", i, i)
}

// countingKV counts the reads that reach the bucket.
type countingKV struct {
	jetstream.KeyValue
	gets atomic.Int64
}

func (c *countingKV) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	c.gets.Add(1)
	return c.KeyValue.Get(ctx, key)
}
