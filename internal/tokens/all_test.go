package tokens_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// Push to all reaches every registered device of the app, and only of the
// app; retired records are skipped; a platform filter narrows all, an
// alias and a tag.
func TestResolveAllAndPlatformFilters(t *testing.T) {
	e := newEnv(t, jetstream.FileStorage)
	ctx := ctxT(t)
	register(t, e.reg, tokens.Device{Platform: events.APNs, Token: "aa01", Alias: "u1", Tags: []string{"news"}})
	register(t, e.reg, tokens.Device{Platform: events.FCM, Token: "f:1", Alias: "u1", Tags: []string{"news"}})
	register(t, e.reg, tokens.Device{Platform: events.Mi, Token: "mi+1", Alias: "u1", Tags: []string{"news"}})
	register(t, e.reg, tokens.Device{Platform: events.FCM, Token: "f:2"})
	register(t, e.reg, tokens.Device{Platform: events.APNs, Token: "aa02", Alias: "u2"})
	register(t, e.reg, tokens.Device{App: "other", Platform: events.APNs, Token: "aa09", Alias: "u1", Tags: []string{"news"}})
	// A retired record (a replaced token) is never part of the audience.
	rec, _ := json.Marshal(tokens.Record{App: app, Platform: events.FCM, Token: "f:old", State: tokens.Retired,
		ReplacedBy: "f:2", UpdatedAt: time.Now()})
	if _, err := e.kv.Put(ctx, tokens.Key(app, events.FCM, "f:old"), rec); err != nil {
		t.Fatal(err)
	}
	ps := func(p ...events.Platform) []events.Platform { return p }
	for _, c := range []struct {
		name string
		t    events.Targets
		want []events.Target
	}{
		{"all", events.Targets{All: true}, targets(tg(events.APNs, "aa01"), tg(events.FCM, "f:1"), tg(events.Mi, "mi+1"),
			tg(events.FCM, "f:2"), tg(events.APNs, "aa02"))},
		{"all apns", events.Targets{All: true, Platforms: ps(events.APNs)}, targets(tg(events.APNs, "aa01"), tg(events.APNs, "aa02"))},
		{"all apns and mi", events.Targets{All: true, Platforms: ps(events.Mi, events.APNs)},
			targets(tg(events.APNs, "aa01"), tg(events.Mi, "mi+1"), tg(events.APNs, "aa02"))},
		{"alias fcm", events.Targets{Alias: "u1", Platforms: ps(events.FCM)}, targets(tg(events.FCM, "f:1"))},
		{"alias apns and fcm", events.Targets{Alias: "u1", Platforms: ps(events.APNs, events.FCM)},
			targets(tg(events.APNs, "aa01"), tg(events.FCM, "f:1"))},
		{"tag mi", events.Targets{Tag: "news", Platforms: ps(events.Mi)}, targets(tg(events.Mi, "mi+1"))},
		{"tag with nothing on the platform", events.Targets{Alias: "u2", Platforms: ps(events.Mi)}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := resolve(t, e.reg, c.t, 2); !equalTargets(got, c.want) {
				t.Fatalf("audience %v, want %v", got, c.want)
			}
		})
	}
	for _, bad := range []events.Targets{
		{All: true, Platforms: ps("webos")},
		{Tag: "news", Platforms: ps(events.FCM, events.FCM)},
	} {
		err := e.reg.Resolve(ctx, app, bad, 10, func([]events.Target) error { return nil })
		if !errors.Is(err, tokens.ErrInvalidDevice) {
			t.Errorf("resolve %+v: %v, want ErrInvalidDevice", bad, err)
		}
	}
	if err := e.reg.Resolve(ctx, "bad.app", events.Targets{All: true}, 10, func([]events.Target) error { return nil }); !errors.Is(err, tokens.ErrInvalidDevice) {
		t.Errorf("all of an invalid app: %v, want ErrInvalidDevice", err)
	}
}

// fillRecords writes n device records of app straight to the bucket's
// subjects, as fillTag does for index entries: platforms in turn (apns,
// fcm, mi), FCM-shaped tokens. It returns how many are of each platform.
func fillRecords(t testing.TB, e *env, n int) map[events.Platform]int {
	t.Helper()
	ctx := ctxT(t)
	per := map[events.Platform]int{}
	now := time.Now().UTC()
	for i := range n {
		p := events.Platforms[i%len(events.Platforms)]
		tok := fcmToken(i)
		rec, err := json.Marshal(tokens.Record{App: app, Platform: p, Token: tok, State: tokens.Active,
			RegisteredAt: &now, Tags: []string{"t"}, UpdatedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.js.PublishAsync("$KV."+events.TokensBucket+"."+tokens.Key(app, p, tok), rec); err != nil {
			t.Fatal(err)
		}
		per[p]++
		if i%4096 == 4095 {
			waitAsync(t, ctx, e.js)
		}
	}
	waitAsync(t, ctx, e.js)
	return per
}

func TestAllResolveMemoryBounded(t *testing.T) {
	n := 6000
	if testing.Short() {
		n = 1200
	}
	e := newEnv(t, jetstream.MemoryStorage)
	per := fillRecords(t, e, n)
	streamed := measureTargets(t, e, events.Targets{All: true}, n, false)
	loaded := measureTargets(t, e, events.Targets{All: true}, n, true)
	t.Logf("resolving all %d devices: peak live heap growth %.2f MiB streamed, %.2f MiB when the audience is kept",
		n, mib(streamed), mib(loaded))
	if streamed > loaded/4 {
		t.Fatalf("streaming all grows the heap by %.2f MiB, not far below keeping the audience (%.2f MiB)", mib(streamed), mib(loaded))
	}
	// The filter is the server's: the filtered walk sees exactly its platform.
	got := 0
	err := e.reg.Resolve(ctxT(t), app, events.Targets{All: true, Platforms: []events.Platform{events.Mi}}, 500, func(ts []events.Target) error {
		for _, x := range ts {
			if x.Platform != events.Mi {
				return fmt.Errorf("%v passed the mi filter", x)
			}
		}
		got += len(ts)
		return nil
	})
	if err != nil || got != per[events.Mi] {
		t.Fatalf("all mi devices: %d, %v; want %d", got, err, per[events.Mi])
	}
}

// BenchmarkAllResolve100k streams every device of an app with 100,000
// registered devices (records, as push-to-all reads them) and reports the
// peak growth of the live heap next to the figure for a callback that
// keeps the whole audience, as BenchmarkTagResolve100k does for a tag.
// Run: go test -run '^$' -bench AllResolve100k -benchtime 1x ./internal/tokens
// PUSHFLEET_BENCH_DEVICES overrides the device count.
func BenchmarkAllResolve100k(b *testing.B) {
	n := 100_000
	if s := os.Getenv("PUSHFLEET_BENCH_DEVICES"); s != "" {
		if _, err := fmt.Sscan(s, &n); err != nil {
			b.Fatal(err)
		}
	}
	e := newEnv(b, jetstream.MemoryStorage)
	fillRecords(b, e, n)
	all := events.Targets{All: true}
	peak := int64(math.MinInt64)
	b.ResetTimer()
	for range b.N {
		peak = max(peak, measureTargets(b, e, all, n, false))
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "devices/s")
	b.StopTimer()
	b.ReportMetric(mib(peak), "peak-heap-MiB")
	b.ReportMetric(mib(measureTargets(b, e, all, n, true)), "kept-heap-MiB")
}
