package dispatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/dispatch"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// msg is the part of a delivered intent the dispatcher reads: its body,
// its subject (push.intents.<app>) and its metadata.
type msg struct {
	jetstream.Msg
	data    []byte
	subject string
}

func (m msg) Data() []byte { return m.data }
func (m msg) Subject() string {
	if m.subject == "" {
		// The app the tests' bodies name.
		return events.IntentSubject("shop")
	}
	return m.subject
}
func (m msg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{Timestamp: time.Now(), NumDelivered: 1}, nil
}

func jobsOn(t *testing.T, js jetstream.JetStream, p events.Platform) []events.Job {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, events.SendStream(p))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Info(ctx)
	var jobs []events.Job
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var j events.Job
		if err := json.Unmarshal(m.Data, &j); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	return jobs
}

func TestBatchesPerPlatformAndRedeliveryNeverDoubles(t *testing.T) {
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv)
	if err := streams.Provision(context.Background(), js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	d, err := dispatch.New(dispatch.Config{}, js, metrics.New(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := events.Intent{ID: "big", App: "shop", Notification: events.Notification{Title: "t", Body: "b"}}
	counts := map[events.Platform]int{events.APNs: 250, events.FCM: 1200, events.Mi: 2500}
	for p, n := range counts {
		for i := range n {
			in.Targets.Tokens = append(in.Targets.Tokens, events.Target{Platform: p, Token: fmt.Sprintf("%s-%d", p, i)})
		}
	}
	// A repeated token is sent once.
	in.Targets.Tokens = append(in.Targets.Tokens, events.Target{Platform: events.FCM, Token: "fcm-7"})
	body, _ := json.Marshal(in)
	for range 2 { // the second time is a redelivery of the same intent
		if v := d.Handle(context.Background(), msg{data: body}); v.Action != consumer.Ack {
			t.Fatalf("verdict %+v", v)
		}
	}
	want := map[events.Platform][]int{
		events.APNs: {100, 100, 50},
		events.FCM:  {500, 500, 200},
		events.Mi:   {1000, 1000, 500},
	}
	for p, sizes := range want {
		jobs := jobsOn(t, js, p)
		if len(jobs) != len(sizes) {
			t.Fatalf("%s: %d jobs after a redelivery, want %d (no doubles)", p, len(jobs), len(sizes))
		}
		total := 0
		for i, j := range jobs {
			if len(j.Tokens) != sizes[i] || j.IntentID != "big" || j.Platform != p {
				t.Fatalf("%s job %d: %d tokens, intent %q, platform %s", p, i, len(j.Tokens), j.IntentID, j.Platform)
			}
			total += len(j.Tokens)
		}
		if total != counts[p] {
			t.Fatalf("%s: %d tokens in jobs, want %d", p, total, counts[p])
		}
	}
}

func TestOverridesTravelOnlyToTheirPlatform(t *testing.T) {
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv)
	if err := streams.Provision(context.Background(), js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	d, _ := dispatch.New(dispatch.Config{}, js, metrics.New(), nil, nil)
	in := events.Intent{ID: "ov", App: "shop", Notification: events.Notification{Title: "t", Body: "b"},
		Targets:   events.Targets{Tokens: []events.Target{{Platform: events.APNs, Token: "ab"}, {Platform: events.Mi, Token: "m"}}},
		Overrides: &events.Overrides{Mi: &events.MiOverrides{ChannelID: "c1"}}}
	body, _ := json.Marshal(in)
	d.Handle(context.Background(), msg{data: body})
	if j := jobsOn(t, js, events.APNs)[0]; j.Overrides != nil {
		t.Fatalf("APNs job carries overrides %+v", j.Overrides)
	}
	if j := jobsOn(t, js, events.Mi)[0]; j.Overrides == nil || j.Overrides.Mi.ChannelID != "c1" {
		t.Fatalf("Mi job overrides %+v", j.Overrides)
	}
}

func TestAliasWithoutRegistryIsDeadLettered(t *testing.T) {
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv)
	d, _ := dispatch.New(dispatch.Config{}, js, metrics.New(), nil, nil)
	body := []byte(`{"id":"a1","app":"shop","targets":{"alias":"u1"},"notification":{"title":"t"}}`)
	if v := d.Handle(context.Background(), msg{data: body}); v.Action != consumer.Dead || v.App != "shop" || v.IntentID != "a1" {
		t.Fatalf("verdict %+v", v)
	}
}

// slowAudience yields n batches of size APNs tokens, pausing before each:
// a big tag read from a busy registry.
type slowAudience struct {
	n, size int
	pause   time.Duration
}

func (a slowAudience) Resolve(ctx context.Context, _ string, _ events.Targets, _ int, fn func([]events.Target) error) error {
	for i := range a.n {
		time.Sleep(a.pause)
		ts := make([]events.Target, a.size)
		for j := range ts {
			ts[j] = events.Target{Platform: events.APNs, Token: fmt.Sprintf("%064x", i*a.size+j)}
		}
		if err := fn(ts); err != nil {
			return err
		}
	}
	return nil
}

// PublishTimeout bounds each wait for acknowledgements, not the dispatch:
// a tag whose resolution takes longer than it is still dispatched whole.
func TestSlowTagOutlastsPublishTimeout(t *testing.T) {
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv)
	if err := streams.Provision(context.Background(), js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	aud := slowAudience{n: 6, size: 100, pause: 100 * time.Millisecond}
	d, err := dispatch.New(dispatch.Config{PublishTimeout: 250 * time.Millisecond}, js, metrics.New(), aud, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"id":"big","app":"shop","targets":{"tag":"everyone"},"notification":{"title":"t"}}`)
	if v := d.Handle(context.Background(), msg{data: body}); v.Action != consumer.Ack {
		t.Fatalf("verdict %+v after %v of resolving, want the intent dispatched", v, time.Duration(aud.n)*aud.pause)
	}
	total := 0
	for _, j := range jobsOn(t, js, events.APNs) {
		total += len(j.Tokens)
	}
	if total != aud.n*aud.size {
		t.Fatalf("%d tokens in jobs, want %d", total, aud.n*aud.size)
	}
}
