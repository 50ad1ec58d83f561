package tokens_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// Alias and tag audiences reach exactly the registered devices that are
// valid, once the dispatcher drops what the Suppressor reports.
func TestResolveReachesRegisteredValidDevices(t *testing.T) {
	e := newEnv(t, jetstream.FileStorage)
	cache := e.runCache(t)
	ctx := ctxT(t)
	register(t, e.reg, tokens.Device{Platform: events.APNs, Token: "aa01", Alias: "u1", Tags: []string{"news"}})
	register(t, e.reg, tokens.Device{Platform: events.FCM, Token: "f:1", Alias: "u1", Tags: []string{"news", "sports"}})
	register(t, e.reg, tokens.Device{Platform: events.Mi, Token: "mi+1", Alias: "u1"})
	register(t, e.reg, tokens.Device{Platform: events.FCM, Token: "f:dead", Alias: "u1", Tags: []string{"news"}})
	register(t, e.reg, tokens.Device{Platform: events.FCM, Token: "f:gone", Alias: "u1", Tags: []string{"news"}})
	register(t, e.reg, tokens.Device{Platform: events.APNs, Token: "aa02", Alias: "u2", Tags: []string{"news"}})
	register(t, e.reg, tokens.Device{App: "other", Platform: events.APNs, Token: "aa09", Alias: "u1", Tags: []string{"news"}})
	if _, err := e.reg.Store().Apply(ctx, &events.Feedback{App: app, Platform: events.FCM, Token: "f:dead",
		Outcome: events.InvalidToken, Reason: "UNREGISTERED", At: time.Now().Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := e.reg.Unregister(ctx, app, events.FCM, "f:gone"); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 5*time.Second, func() bool { return cache.Suppressed(app, events.FCM, "f:dead") }, "invalid token suppressed")

	deliverable := func(ts []events.Target) []events.Target {
		var out []events.Target
		for _, x := range ts {
			if !cache.Suppressed(app, x.Platform, x.Token) {
				out = append(out, x)
			}
		}
		return out
	}
	for _, c := range []struct {
		name string
		t    events.Targets
		want []events.Target
	}{
		{"alias", events.Targets{Alias: "u1"}, targets(tg(events.APNs, "aa01"), tg(events.FCM, "f:1"), tg(events.Mi, "mi+1"))},
		{"tag", events.Targets{Tag: "news"}, targets(tg(events.APNs, "aa01"), tg(events.FCM, "f:1"), tg(events.APNs, "aa02"))},
		{"tag of one", events.Targets{Tag: "sports"}, targets(tg(events.FCM, "f:1"))},
		{"unknown tag", events.Targets{Tag: "none"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			all := resolve(t, e.reg, c.t, 2)
			if got := deliverable(all); !equalTargets(got, c.want) {
				t.Fatalf("deliverable audience %v, want %v (resolved %v)", got, c.want, all)
			}
		})
	}
}

func TestResolvePassesExplicitTokensInBatches(t *testing.T) {
	e := newEnv(t, jetstream.MemoryStorage)
	var in []events.Target
	for i := range 7 {
		in = append(in, tg(events.APNs, fmt.Sprint("ab", i)))
	}
	if got := resolve(t, e.reg, events.Targets{Tokens: in}, 3); !equalTargets(got, sorted(append([]events.Target(nil), in...))) {
		t.Fatalf("explicit tokens resolve to %v", got)
	}
}

func TestResolveStopsOnCallbackError(t *testing.T) {
	e := newEnv(t, jetstream.MemoryStorage)
	fillTag(t, e.js, "big", 50)
	stop := errors.New("enough")
	calls := 0
	err := e.reg.Resolve(ctxT(t), app, events.Targets{Tag: "big"}, 10, func([]events.Target) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("resolve: err %v after %d calls, want the callback's error after 1", err, calls)
	}
	ctx, cancel := context.WithCancel(ctxT(t))
	cancel()
	if err := e.reg.Resolve(ctx, app, events.Targets{Tag: "big"}, 10, func([]events.Target) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("resolve with a cancelled context: %v", err)
	}
}

func TestListPagesThroughTag(t *testing.T) {
	e := newEnv(t, jetstream.MemoryStorage)
	fillTag(t, e.js, "paged", 25)
	ctx := ctxT(t)
	var sizes []int
	seen := map[events.Target]int{}
	page := tokens.Page{Limit: 10}
	for {
		m, err := e.reg.ListTag(ctx, app, "paged", page)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(m.Devices))
		for _, d := range m.Devices {
			seen[d]++
		}
		if m.Next == "" {
			break
		}
		page.Cursor = m.Next
	}
	if fmt.Sprint(sizes) != "[10 10 5]" || len(seen) != 25 {
		t.Fatalf("page sizes %v, %d distinct devices; want [10 10 5] and 25", sizes, len(seen))
	}
	for d, n := range seen {
		if n != 1 {
			t.Errorf("%v listed %d times", d, n)
		}
	}
	if _, err := e.reg.ListTag(ctx, app, "paged", tokens.Page{Cursor: "nope"}); !errors.Is(err, tokens.ErrInvalidCursor) {
		t.Fatalf("bad cursor: %v, want ErrInvalidCursor", err)
	}
	if m, err := e.reg.ListTag(ctx, app, "paged", tokens.Page{Limit: 5000}); err != nil || len(m.Devices) != 25 {
		t.Fatalf("limit above the maximum: %d devices, %v", len(m.Devices), err)
	}
}

// measureResolve resolves a tag of n devices and returns the peak growth of
// the live heap while streaming it: about 16 times during the walk it
// collects garbage and reads the heap. With keep, the callback holds on to
// every target, as code that loads the audience would: the control that
// shows what the measurement sees. The figure includes the in-process
// server's own work for the scan.
func measureResolve(tb testing.TB, e *env, tag string, n int, keep bool) int64 {
	tb.Helper()
	return measureTargets(tb, e, events.Targets{Tag: tag}, n, keep)
}

// measureTargets is measureResolve for any audience of n devices.
func measureTargets(tb testing.TB, e *env, tgs events.Targets, n int, keep bool) int64 {
	tb.Helper()
	const batch = 500
	every := max(1, n/batch/16)
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC() // the second empties sync.Pool victim caches
	runtime.ReadMemStats(&ms)
	base := int64(ms.HeapAlloc)
	peak := int64(math.MinInt64)
	var kept []events.Target
	got, calls := 0, 0
	err := e.reg.Resolve(ctxT(tb), app, tgs, batch, func(ts []events.Target) error {
		got += len(ts)
		if keep {
			kept = append(kept, ts...)
		}
		if calls++; calls%every == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, int64(ms.HeapAlloc)-base)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	if got != n {
		tb.Fatalf("resolved %d devices, want %d", got, n)
	}
	runtime.KeepAlive(kept)
	return peak
}

func TestTagResolveMemoryBounded(t *testing.T) {
	n := 5000
	if testing.Short() {
		n = 1000
	}
	e := newEnv(t, jetstream.MemoryStorage)
	fillTag(t, e.js, "all", n)
	streamed := measureResolve(t, e, "all", n, false)
	loaded := measureResolve(t, e, "all", n, true)
	t.Logf("resolving a %d-device tag: peak live heap growth %.2f MiB streamed, %.2f MiB when the audience is kept",
		n, mib(streamed), mib(loaded))
	if streamed > loaded/4 {
		t.Fatalf("streaming grows the heap by %.2f MiB, not far below keeping the audience (%.2f MiB)", mib(streamed), mib(loaded))
	}
}

// BenchmarkTagResolve100k streams a 100,000-device tag and reports the peak
// growth of the live heap (peak-heap-MiB) next to the same figure for a
// callback that keeps the whole audience (kept-heap-MiB).
// Run: go test -run '^$' -bench TagResolve100k -benchtime 1x ./internal/tokens
// PUSHFLEET_BENCH_DEVICES overrides the device count.
func BenchmarkTagResolve100k(b *testing.B) {
	n := 100_000
	if s := os.Getenv("PUSHFLEET_BENCH_DEVICES"); s != "" {
		if _, err := fmt.Sscan(s, &n); err != nil {
			b.Fatal(err)
		}
	}
	e := newEnv(b, jetstream.MemoryStorage)
	fillTag(b, e.js, "all", n)
	peak := int64(math.MinInt64)
	b.ResetTimer()
	for range b.N {
		peak = max(peak, measureResolve(b, e, "all", n, false))
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "devices/s")
	b.StopTimer()
	b.ReportMetric(mib(peak), "peak-heap-MiB")
	b.ReportMetric(mib(measureResolve(b, e, "all", n, true)), "kept-heap-MiB")
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
