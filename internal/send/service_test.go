package send

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"


	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// countingSender records calls; the provider must never see an expired job.
type countingSender struct{ calls atomic.Int32 }

func (c *countingSender) Send(_ context.Context, job *events.Job) []provider.Result {
	c.calls.Add(1)
	return provider.All(job.Tokens, provider.Delivered, "", nil)
}

// The stream's per-message TTL drops most expired jobs, but one fetched just
// before its expiry must still not be sent: the check before the provider
// call, with "expired" feedback for every token.
func TestExpiredJobIsNotSent(t *testing.T) {
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv)
	ctx := context.Background()
	if err := streams.Provision(ctx, js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	p := &countingSender{}
	svc, err := New(Config{Platform: events.FCM}, p, js, metrics.New())
	if err != nil {
		t.Fatal(err)
	}
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
	s, _ := js.Stream(ctx, events.StreamFeedback)
	info, _ := s.Info(ctx)
	if info.State.Msgs != 2 {
		t.Fatalf("%d feedback events, want one per token", info.State.Msgs)
	}
	m, _ := s.GetMsg(ctx, 1)
	if f, err := events.DecodeFeedback(m.Data); err != nil || f.Outcome != events.Expired {
		t.Fatalf("feedback %+v (%v), want outcome expired", f, err)
	}
}
