package send

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// newTestService is a sender service around s on an in-process JetStream
// server (file storage) with the fleet's streams, publishing as the fleet's
// services do (fleet.NewJetStream).
func newTestService(tb testing.TB, cfg Config, s provider.Sender) (*Service, jetstream.JetStream) {
	tb.Helper()
	nc, _ := natstest.Connect(tb, natstest.RunServer(tb))
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(16384))
	if err != nil {
		tb.Fatal(err)
	}
	if err := streams.Provision(context.Background(), js, streams.Config{}); err != nil {
		tb.Fatal(err)
	}
	svc, err := New(cfg, s, js, metrics.New())
	if err != nil {
		tb.Fatal(err)
	}
	return svc, js
}

// countingSender records calls; the provider must never see an expired job.
type countingSender struct{ calls atomic.Int32 }

func (c *countingSender) Send(_ context.Context, job *events.Job) []provider.Result {
	c.calls.Add(1)
	return provider.All(job.Tokens, provider.Delivered, "", nil)
}

// No stream TTL removes an expired job (it would vanish without an
// outcome): the sender checks the expiry before the provider call and
// reports "expired" for every token.
func TestExpiredJobIsNotSent(t *testing.T) {
	ctx := context.Background()
	p := &countingSender{}
	svc, js := newTestService(t, Config{Platform: events.FCM}, p)
	past := time.Now().Add(-time.Second)
	job := events.Job{ID: "j", IntentID: "i", App: "shop", Platform: events.FCM, Tokens: []string{"a", "b"},
		Notification: events.Notification{Title: "t", Expiry: &past}}
	body, _ := json.Marshal(job)
	if v := svc.Handle(ctx, jobMsg{data: body}); v.Action != consumer.Ack {
		t.Fatalf("verdict %+v, want ack", v)
	}
	if n := p.calls.Load(); n != 0 {
		t.Fatalf("provider called %d times for an expired job", n)
	}
	fbs := storedFeedback(t, js)
	if len(fbs) != 2 {
		t.Fatalf("%d feedback events, want one per token", len(fbs))
	}
	if f := fbs[0]; f.Outcome != events.Expired {
		t.Fatalf("feedback %+v, want outcome expired", f)
	}
}

// gaugeSender records the most tokens it held at once.
type gaugeSender struct {
	now, peak atomic.Int64
	calls     atomic.Int32
}

func (g *gaugeSender) Send(_ context.Context, job *events.Job) []provider.Result {
	n := g.now.Add(int64(len(job.Tokens)))
	for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() {
	}
	time.Sleep(5 * time.Millisecond)
	g.now.Add(-int64(len(job.Tokens)))
	g.calls.Add(1)
	return provider.All(job.Tokens, provider.Delivered, "", nil)
}

// Many jobs handled at once never put more than MaxTokensInFlight tokens at
// the provider; a job larger than the bound still goes, alone.
func TestTokensInFlightBounded(t *testing.T) {
	ctx := context.Background()
	g := &gaugeSender{}
	svc, _ := newTestService(t, Config{Platform: events.APNs, MaxTokensInFlight: 10}, g)
	sizes := []int{3, 3, 3, 3, 3, 3, 3, 3, 25, 1, 1, 1, 1, 1, 7, 7}
	var wg sync.WaitGroup
	for i, n := range sizes {
		toks := make([]string, n)
		for j := range toks {
			toks[j] = fmt.Sprintf("tok-%d-%d", i, j)
		}
		body, _ := json.Marshal(events.Job{ID: fmt.Sprintf("j%d", i), IntentID: "i", App: "shop", Platform: events.APNs,
			Tokens: toks, Notification: events.Notification{Title: "t"}})
		wg.Go(func() {
			if v := svc.Handle(ctx, jobMsg{data: body}); v.Action != consumer.Ack {
				t.Errorf("job %d: verdict %+v, want ack", i, v)
			}
		})
	}
	wg.Wait()
	if c := g.calls.Load(); int(c) != len(sizes) {
		t.Fatalf("%d provider calls, want %d", c, len(sizes))
	}
	// The 25-token job ran alone; every other moment stayed within 10.
	if p := g.peak.Load(); p != 25 {
		t.Fatalf("peak %d tokens at the provider, want 25 (the oversized job alone)", p)
	}
}

// silentPublisher stores nothing and never acknowledges an asynchronous
// publish: a server that failed after reading the message.
type silentPublisher struct{ jetstream.Publisher }

func (silentPublisher) PublishMsgAsync(msg *nats.Msg, _ ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	return silentFuture{msg}, nil
}

type silentFuture struct{ msg *nats.Msg }

func (silentFuture) Ok() <-chan *jetstream.PubAck { return nil }
func (silentFuture) Err() <-chan error            { return nil }
func (f silentFuture) Msg() *nats.Msg             { return f.msg }

// A feedback acknowledgement lost with a failed server must not hold the
// job forever: after PublishTimeout the job is retried (the provider will
// be asked again; a duplicate at worst, never a loss). Without the bound,
// Handle waits for ever and the job's keep-alive keeps it from every
// other replica.
func TestLostFeedbackAckRetriesTheJob(t *testing.T) {
	svc, err := New(Config{Platform: events.APNs, PublishTimeout: 100 * time.Millisecond}, &countingSender{}, silentPublisher{}, metrics.New())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(events.Job{ID: "j", IntentID: "i", App: "shop", Platform: events.APNs, Tokens: []string{"aa"},
		Notification: events.Notification{Title: "t"}})
	done := make(chan consumer.Verdict, 1)
	go func() { done <- svc.Handle(context.Background(), jobMsg{data: body}) }()
	select {
	case v := <-done:
		if v.Action != consumer.Retry {
			t.Fatalf("verdict %+v, want a retry", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Handle still waiting for a feedback acknowledgement after 10s")
	}
}

// staggeredSender answers token i at base + i seconds.
type staggeredSender struct{ base time.Time }

func (s staggeredSender) Send(_ context.Context, job *events.Job) []provider.Result {
	rs := provider.All(job.Tokens, provider.Delivered, "", nil)
	for i := range rs {
		rs[i].AnsweredAt = s.base.Add(time.Duration(i) * time.Second)
	}
	return rs
}

// Each feedback event carries its own token's answer time, not the end of
// its job.
func TestFeedbackAtIsTheTokensAnswer(t *testing.T) {
	ctx := context.Background()
	base := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	svc, js := newTestService(t, Config{Platform: events.APNs}, staggeredSender{base})
	body, _ := json.Marshal(events.Job{ID: "j", IntentID: "i", App: "shop", Platform: events.APNs, Tokens: []string{"a", "b", "c"},
		Notification: events.Notification{Title: "t"}})
	if v := svc.Handle(ctx, jobMsg{data: body}); v.Action != consumer.Ack {
		t.Fatalf("verdict %+v, want ack", v)
	}
	fbs := storedFeedback(t, js)
	if len(fbs) != 3 {
		t.Fatalf("%d feedback events, want one per token", len(fbs))
	}
	for seq, tok := range []string{"a", "b", "c"} {
		f := fbs[seq]
		if want := base.Add(time.Duration(seq) * time.Second); f.Token != tok || !f.At.Equal(want) {
			t.Fatalf("feedback %d: token %q at %v, want %q at %v", seq, f.Token, f.At, tok, want)
		}
	}
}
