package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

type coalesceHarness struct {
	ctx  context.Context
	js   jetstream.JetStream
	cons jetstream.Consumer
}

func newCoalesceHarness(t *testing.T) *coalesceHarness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	_, js := natstest.Connect(t, natstest.RunServer(t))
	if err := streams.Provision(ctx, js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, events.StreamIntents, jetstream.ConsumerConfig{
		Durable: events.DurableDispatcher, FilterSubject: events.IntentsRoot + ".>", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	return &coalesceHarness{ctx: ctx, js: js, cons: cons}
}

func (h *coalesceHarness) publish(t *testing.T, in *events.Intent) {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.js.Publish(h.ctx, events.IntentSubject(in.App), b); err != nil {
		t.Fatal(err)
	}
}

// fetch takes n intents as the runner would, in one batch.
func (h *coalesceHarness) fetch(t *testing.T, n int) []jetstream.Msg {
	t.Helper()
	var msgs []jetstream.Msg
	for len(msgs) < n {
		b, err := h.cons.Fetch(n-len(msgs), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range b.Messages() {
			msgs = append(msgs, m)
		}
		if b.Error() != nil {
			t.Fatal(b.Error())
		}
	}
	return msgs
}

// jobs returns the jobs stored for platform p.
func (h *coalesceHarness) jobs(t *testing.T, p events.Platform) []*events.Job {
	t.Helper()
	s, err := h.js.Stream(h.ctx, events.SendStream(p))
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*events.Job
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(h.ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		j, err := events.DecodeJob(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, j)
	}
	return out
}

func oneToken(id, app string, p events.Platform, token string) *events.Intent {
	return &events.Intent{ID: id, App: app, Notification: events.Notification{Title: "t-" + id, Body: "b"},
		Targets: events.Targets{Tokens: []events.Target{{Platform: p, Token: token}}}}
}

// openTokens is how many tokens the coalescer holds in open jobs.
func (c *coalescer) openTokens() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, j := range c.open {
		n += len(j.tokens)
	}
	return n
}

// Under load, the one-token intents of one app and platform share a job:
// each token points at its own notification, the intents are acked only
// once it is stored, and a job never mixes apps or platforms.
func TestConcurrentOneTokenIntentsShareAJob(t *testing.T) {
	h := newCoalesceHarness(t)
	d, err := New(Config{Linger: time.Second}, h.js, metrics.New(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var want []*events.Intent
	for i := range 12 {
		app, p := "shop", events.APNs
		if i%3 == 1 {
			app = "news"
		}
		if i%3 == 2 {
			p = events.FCM
		}
		in := oneToken(fmt.Sprintf("i%02d", i), app, p, fmt.Sprintf("%064x", i))
		want = append(want, in)
		h.publish(t, in)
	}
	msgs := h.fetch(t, len(want))

	// A test hold keeps the coalescer from flushing when the last intent
	// has added its token, as another intent still at intake would.
	_, release := d.hold(h.ctx)
	verdicts := make(chan consumer.Verdict, len(msgs))
	var wg sync.WaitGroup
	for _, m := range msgs {
		wg.Go(func() { verdicts <- d.Handle(h.ctx, m) })
	}
	deadline := time.Now().Add(10 * time.Second)
	for d.coal.openTokens() < len(msgs) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d tokens reached the coalescer", d.coal.openTokens(), len(msgs))
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case v := <-verdicts:
		t.Fatalf("an intent was settled (%v) before its job was published", v.Action)
	default:
	}
	release()
	wg.Wait()
	close(verdicts)
	for v := range verdicts {
		if v.Action != consumer.Ack {
			t.Fatalf("verdict %+v", v)
		}
	}

	got := map[string]string{} // token -> intent id, from the stored jobs
	var jobs []*events.Job
	for _, p := range []events.Platform{events.APNs, events.FCM} {
		jobs = append(jobs, h.jobs(t, p)...)
	}
	if len(jobs) != 3 {
		t.Fatalf("%d jobs, want 3 (shop/apns, news/apns, shop/fcm)", len(jobs))
	}
	for _, j := range jobs {
		if !j.Coalesced() || len(j.Parts) != 4 {
			t.Errorf("job %s of %s/%s: %d parts, want 4 coalesced", j.ID, j.App, j.Platform, len(j.Parts))
		}
		for i, tok := range j.Tokens {
			p := j.PartOf(i)
			got[tok] = p.IntentID
			if p.Notification.Title != "t-"+p.IntentID {
				t.Errorf("token %d of job %s carries %q of intent %s", i, j.ID, p.Notification.Title, p.IntentID)
			}
		}
	}
	for _, in := range want {
		tok := in.Targets.Tokens[0]
		if got[tok.Token] != in.ID {
			t.Errorf("token of %s is in intent %q's part", in.ID, got[tok.Token])
		}
		for _, j := range jobs {
			for i, jt := range j.Tokens {
				if jt == tok.Token && (j.App != in.App || j.Platform != tok.Platform) {
					t.Errorf("token %d of %s sits in a %s/%s job", i, in.ID, j.App, j.Platform)
				}
			}
		}
	}
}

// An idle dispatcher adds no latency: a lone intent's job is published as
// soon as its tokens are added, whatever the linger, as the plain job it
// would have been without coalescing.
func TestALoneIntentIsPublishedAtOnceAsAPlainJob(t *testing.T) {
	h := newCoalesceHarness(t)
	d, err := New(Config{Linger: time.Second}, h.js, metrics.New(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Were the linger waited for, Handle would not return before the
	// test's deadline.
	d.coal.linger = time.Hour
	in := oneToken("lone", "shop", events.APNs, "ab01")
	h.publish(t, in)
	msg := h.fetch(t, 1)[0]
	if v := d.Handle(h.ctx, msg); v.Action != consumer.Ack {
		t.Fatalf("verdict %+v", v)
	}
	jobs := h.jobs(t, events.APNs)
	if len(jobs) != 1 || jobs[0].Coalesced() ||
		jobs[0].ID != events.JobID("lone", events.APNs, 0, []string{"ab01"}) || jobs[0].IntentID != "lone" {
		t.Fatalf("jobs %+v", jobs)
	}
}

// Jobs are flushed at the platform's batch size: seven one-token intents
// with a batch of three make jobs of 3, 3 and 1 tokens.
func TestCoalescedJobsAreFlushedAtTheBatchSize(t *testing.T) {
	h := newCoalesceHarness(t)
	d, err := New(Config{Linger: time.Second, BatchAPNs: 3}, h.js, metrics.New(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		h.publish(t, oneToken(fmt.Sprintf("b%d", i), "shop", events.APNs, fmt.Sprintf("%04x", i)))
	}
	msgs := h.fetch(t, 7)
	// Held open as by another intent at intake: only the batch size (or
	// the release) flushes.
	_, release := d.hold(h.ctx)
	var wg sync.WaitGroup
	for _, m := range msgs {
		wg.Go(func() {
			if v := d.Handle(h.ctx, m); v.Action != consumer.Ack {
				t.Errorf("verdict %+v", v)
			}
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(h.jobs(t, events.APNs)) < 2 || d.coal.openTokens() < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs flushed, %d tokens open: the full batches were not flushed at once",
				len(h.jobs(t, events.APNs)), d.coal.openTokens())
		}
		time.Sleep(time.Millisecond)
	}
	release()
	wg.Wait()
	var sizes []int
	for _, j := range h.jobs(t, events.APNs) {
		sizes = append(sizes, len(j.Tokens))
	}
	sort.Ints(sizes)
	if !reflect.DeepEqual(sizes, []int{1, 3, 3}) {
		t.Fatalf("job sizes %v, want [1 3 3]", sizes)
	}
}

// An intent with tokens for two platforms is not coalesced: each of its
// jobs keeps the id it has alone, so that a dispatcher that died with one
// of them stored does not store those tokens again in another job.
func TestAnIntentOfSeveralJobsIsNotCoalesced(t *testing.T) {
	h := newCoalesceHarness(t)
	d, err := New(Config{Linger: time.Second}, h.js, metrics.New(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := oneToken("two", "shop", events.APNs, "ab02")
	in.Targets.Tokens = append(in.Targets.Tokens, events.Target{Platform: events.FCM, Token: "fcm-1"})
	h.publish(t, in)
	msg := h.fetch(t, 1)[0]
	// Held open by another intent, a coalescable intent would wait for
	// the linger; this one does not join.
	_, release := d.hold(h.ctx)
	defer release()
	d.coal.linger = time.Hour
	if v := d.Handle(h.ctx, msg); v.Action != consumer.Ack {
		t.Fatalf("verdict %+v", v)
	}
	for p, tok := range map[events.Platform]string{events.APNs: "ab02", events.FCM: "fcm-1"} {
		jobs := h.jobs(t, p)
		if len(jobs) != 1 || jobs[0].Coalesced() || jobs[0].ID != events.JobID("two", p, 0, []string{tok}) {
			t.Fatalf("%s jobs %+v", p, jobs)
		}
	}
}
