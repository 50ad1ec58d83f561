package events_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// tokenSeq yields n distinct 64-hex-digit APNs-like tokens (and FCM ones
// every third), generated on the fly: the source holds nothing.
func tokenSeq(n int) iter.Seq2[events.Target, error] {
	return func(yield func(events.Target, error) bool) {
		for i := range n {
			p := events.APNs
			if i%3 == 0 {
				p = events.FCM
			}
			if !yield(events.Target{Platform: p, Token: fmt.Sprintf("%064x", i)}, nil) {
				return
			}
		}
	}
}

// storedIntents reads every intent of the stream (without consuming it).
func storedIntents(ctx context.Context, t *testing.T, js jetstream.JetStream) []*events.Intent {
	t.Helper()
	s, err := js.Stream(ctx, events.StreamIntents)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*events.Intent
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		in, err := events.DecodeIntent(m.Data, events.Limits{})
		if err != nil {
			t.Fatalf("stored intent %d: %v", seq, err)
		}
		if got := m.Header.Get(events.HeaderIntentID); got != in.ID {
			t.Fatalf("intent %s carries header id %q", in.ID, got)
		}
		out = append(out, in)
	}
	return out
}

// A session splits 2,500 tokens into intents p-1, p-2, p-3 of at most
// 1,000 tokens, in order, and a restart with the same prefix stores nothing
// twice.
func TestSessionPublishesBoundedIntentsWithSharedPrefix(t *testing.T) {
	ctx, js := publisherEnv(t)
	pub := events.NewPublisher(js)
	n := events.Notification{Title: "Sale", Body: "50% off"}
	sum, err := pub.Stream(ctx, "shop", n, events.SessionOptions{IDPrefix: "sale-42", MaxInFlight: 2}, tokenSeq(2500))
	if err != nil {
		t.Fatal(err)
	}
	want := events.SessionSummary{Intents: 3, Tokens: 2500, LastID: "sale-42-3"}
	if sum.Intents != want.Intents || sum.Tokens != want.Tokens || sum.Duplicates != 0 || sum.Failures != 0 || sum.LastID != want.LastID {
		t.Fatalf("summary %+v, want %+v", sum, want)
	}
	ins := storedIntents(ctx, t, js)
	if len(ins) != 3 {
		t.Fatalf("%d intents stored, want 3", len(ins))
	}
	i := 0
	for k, in := range ins {
		if in.ID != "sale-42-"+strconv.Itoa(k+1) || in.App != "shop" || in.Notification.Title != "Sale" {
			t.Fatalf("intent %d: id %q app %q notification %+v", k, in.ID, in.App, in.Notification)
		}
		if len(in.Targets.Tokens) > events.DefaultSessionTokens {
			t.Fatalf("intent %s carries %d tokens", in.ID, len(in.Targets.Tokens))
		}
		for _, tg := range in.Targets.Tokens {
			if tg.Token != fmt.Sprintf("%064x", i) {
				t.Fatalf("token %d is %q: lost, doubled or out of order", i, tg.Token)
			}
			i++
		}
	}
	if i != 2500 {
		t.Fatalf("%d tokens stored, want 2500", i)
	}

	// The producer restarts the stream from the beginning: same ids, same
	// content, every intent a duplicate.
	sum, err = pub.Stream(ctx, "shop", n, events.SessionOptions{IDPrefix: "sale-42"}, tokenSeq(2500))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Intents != 3 || sum.Duplicates != 3 {
		t.Fatalf("restart summary %+v, want 3 intents, 3 duplicates", sum)
	}
	if got := len(storedIntents(ctx, t, js)); got != 3 {
		t.Fatalf("%d intents stored after the restart, want 3", got)
	}
}

// MaxBytes bounds every encoded intent, whatever the token sizes; a token
// that needs escaping is still counted high enough.
func TestSessionBoundsIntentBytes(t *testing.T) {
	ctx, js := publisherEnv(t)
	s, err := events.NewPublisher(js).NewSession("shop", events.Notification{Body: "hi"},
		events.SessionOptions{IDPrefix: "big", MaxBytes: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		tok := strings.Repeat("a", 50+i%400) + "<&>" + strconv.Itoa(i)
		if err := s.Add(ctx, events.Target{Platform: events.FCM, Token: tok}); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := s.Close(ctx)
	if err != nil || sum.Tokens != 300 || sum.Intents < 2 {
		t.Fatalf("summary %+v, err %v", sum, err)
	}
	str, _ := js.Stream(ctx, events.StreamIntents)
	for seq := uint64(1); seq <= uint64(sum.Intents); seq++ {
		m, err := str.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Data) > 8<<10 {
			t.Fatalf("intent %d is %d bytes, over MaxBytes %d", seq, len(m.Data), 8<<10)
		}
	}
}

// Invalid tokens are refused one by one, with a reason naming the token,
// and the stream goes on; an invalid notification or prefix is refused
// before anything is published.
func TestSessionRefusesWithReasons(t *testing.T) {
	ctx, js := publisherEnv(t)
	pub := events.NewPublisher(js)
	for _, tc := range []struct {
		name, app string
		n         events.Notification
		o         events.SessionOptions
		field     string
	}{
		{"no prefix", "shop", events.Notification{Body: "x"}, events.SessionOptions{}, "session.id_prefix"},
		{"bad prefix", "shop", events.Notification{Body: "x"}, events.SessionOptions{IDPrefix: "a b"}, "session.id_prefix"},
		{"too many tokens", "shop", events.Notification{Body: "x"}, events.SessionOptions{IDPrefix: "p", MaxTokens: 10001}, "session.max_tokens"},
		{"bytes over the limit", "shop", events.Notification{Body: "x"}, events.SessionOptions{IDPrefix: "p", MaxBytes: 1 << 20}, "session.max_bytes"},
		{"no room for a token", "shop", events.Notification{Body: strings.Repeat("x", 900)}, events.SessionOptions{IDPrefix: "p", MaxBytes: 1000}, "session.max_bytes"},
		{"empty notification", "shop", events.Notification{}, events.SessionOptions{IDPrefix: "p"}, "notification"},
		{"bad app", "a.b", events.Notification{Body: "x"}, events.SessionOptions{IDPrefix: "p"}, "app"},
	} {
		_, err := pub.NewSession(tc.app, tc.n, tc.o)
		var ve *events.ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("%s: err %v, want a ValidationError on %s", tc.name, err, tc.field)
		}
	}

	s, err := pub.NewSession("shop", events.Notification{Body: "no title"}, events.SessionOptions{IDPrefix: "mixed"})
	if err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		t     events.Target
		field string
	}{
		{events.Target{Platform: "nope", Token: "t"}, "token #2.platform"},
		{events.Target{Platform: events.FCM, Token: "has space"}, "token #3.token"},
		{events.Target{Platform: events.Mi, Token: "m1"}, "notification.title"}, // MiPush needs a title
		{events.Target{Platform: events.FCM, Token: ""}, "token #5.token"},
	}
	if err := s.Add(ctx, events.Target{Platform: events.FCM, Token: "ok1"}); err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		err := s.Add(ctx, b.t)
		var ve *events.ValidationError
		if !errors.As(err, &ve) || ve.Field != b.field {
			t.Errorf("Add(%+v): %v, want a ValidationError on %s", b.t, err, b.field)
		}
	}
	if err := s.Add(ctx, events.Target{Platform: events.APNs, Token: "ok2"}); err != nil {
		t.Fatal(err)
	}
	sum, err := s.Close(ctx)
	if err != nil || sum.Tokens != 2 || sum.Rejected != 4 || sum.Intents != 1 {
		t.Fatalf("summary %+v, err %v", sum, err)
	}
	if err := s.Add(ctx, events.Target{Platform: events.FCM, Token: "late"}); !errors.Is(err, events.ErrSessionClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
}

// Publishes that are never acknowledged (no stream listens) are retried,
// then reported as failures with their ids, without hanging.
func TestSessionReportsFailures(t *testing.T) {
	ctx, js := publisherEnv(t)
	if err := js.DeleteStream(ctx, events.StreamIntents); err != nil {
		t.Fatal(err)
	}
	sum, err := events.NewPublisher(js).Stream(ctx, "shop", events.Notification{Body: "x"},
		events.SessionOptions{IDPrefix: "lost", MaxTokens: 10, Attempts: 2, AckWait: 200 * time.Millisecond}, tokenSeq(25))
	if err == nil || sum.Failures != 3 || sum.FailedTokens != 25 || sum.Intents != 0 ||
		strings.Join(sum.FailedIDs, ",") != "lost-1,lost-2,lost-3" {
		t.Fatalf("summary %+v, err %v; want 3 failed intents of 25 tokens", sum, err)
	}
}

// streamPeak streams n tokens through a session while a fake dispatcher
// drains PUSH_INTENTS (so the in-process server holds little), sampling the
// heap in use; it returns the peak above the heap before the run.
func streamPeak(t *testing.T, n int) (peak uint64, sum events.SessionSummary) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, js := natstest.Connect(t, natstest.RunServer(t))
	if err := streams.Provision(ctx, js, streams.Config{Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, events.StreamIntents, jetstream.ConsumerConfig{
		Durable: "drain", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	var consumed, intents atomic.Int64
	cc, err := cons.Consume(func(m jetstream.Msg) {
		consumed.Add(int64(bytes.Count(m.Data(), []byte(`"token":`))))
		intents.Add(1)
		_ = m.Ack()
	}, jetstream.PullMaxMessages(64))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Stop()

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var maxInuse atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > maxInuse.Load() {
				maxInuse.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	sum, err = events.NewPublisher(js).Stream(ctx, "shop", events.Notification{Title: "t", Body: "b"},
		events.SessionOptions{IDPrefix: "mem-" + strconv.Itoa(n)}, tokenSeq(n))
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Tokens != n || sum.Failures != 0 || sum.Rejected != 0 || sum.Intents != (n+999)/1000 {
		t.Fatalf("summary %+v for %d tokens", sum, n)
	}
	deadline := time.Now().Add(time.Minute)
	for consumed.Load() != int64(n) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if consumed.Load() != int64(n) || intents.Load() != int64(sum.Intents) {
		t.Fatalf("the fake dispatcher got %d tokens in %d intents, want %d in %d", consumed.Load(), intents.Load(), n, sum.Intents)
	}
	if maxInuse.Load() > base {
		peak = maxInuse.Load() - base
	}
	return peak, sum
}

// A session's memory does not grow with the stream: 1,000,000 tokens take
// no more heap than 100,000 (plus slack for the GC's pacing), where the
// token list alone would be ~100 MB. The heap includes the in-process
// server's; a fake dispatcher keeps its stream drained.
func TestSessionStreamsInBoundedMemory(t *testing.T) {
	peak100k, _ := streamPeak(t, 100_000)
	t.Logf("100,000 tokens: peak heap in use %.1f MiB above the start", float64(peak100k)/(1<<20))
	const absolute = 64 << 20 // 1M 64-byte tokens in a list would be > 100 MiB
	if peak100k > absolute {
		t.Fatalf("100,000 tokens: peak heap %d MiB above the start, want < %d MiB", peak100k>>20, absolute>>20)
	}
	if testing.Short() || raceEnabled {
		// The race detector makes it a minute-long run on 2 cores; the
		// bound is the same without it.
		t.Skip("the 1,000,000-token run is skipped with -short and -race")
	}
	peak1M, sum := streamPeak(t, 1_000_000)
	t.Logf("1,000,000 tokens in %d intents: peak heap in use %.1f MiB above the start", sum.Intents, float64(peak1M)/(1<<20))
	if peak1M > absolute || peak1M > 2*peak100k+16<<20 {
		t.Fatalf("1,000,000 tokens: peak heap %.1f MiB, 100,000: %.1f MiB: memory grows with the stream",
			float64(peak1M)/(1<<20), float64(peak100k)/(1<<20))
	}
}
