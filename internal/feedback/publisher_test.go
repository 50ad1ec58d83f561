package feedback_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/feedback"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// A job redelivered after its feedback was stored publishes the same final
// outcomes again: subscribers must see each once, and every failed attempt.
func TestRepublishedFinalOutcomesAreStoredOnce(t *testing.T) {
	t.Parallel()
	_, js := natstest.Connect(t, natstest.RunServer(t))
	ctx := context.Background()
	if err := streams.Provision(ctx, js, streams.Config{Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC()
	ev := func(token string, o events.Outcome) events.Feedback {
		return events.Feedback{App: "demo", Platform: events.APNs, Token: token, Outcome: o,
			IntentID: "i1", JobID: "j1", At: at}
	}
	batch := []events.Feedback{ev("aa", events.Delivered), ev("bb", events.InvalidToken), ev("cc", events.Failed)}
	p := feedback.NewPublisher(js)
	for range 2 {
		if err := p.Publish(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	s, err := js.Stream(ctx, events.StreamFeedback)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// delivered and invalid once each, failed twice.
	if info.State.Msgs != 4 {
		t.Errorf("PUSH_FEEDBACK holds %d events, want 4", info.State.Msgs)
	}
	if a, b := feedback.MsgID(&batch[0]), feedback.MsgID(&batch[1]); a == b || a == "" {
		t.Errorf("ids %q and %q", a, b)
	}
	other := batch[0]
	other.App = "shop"
	if feedback.MsgID(&other) == feedback.MsgID(&batch[0]) {
		t.Error("two apps' outcomes share an id")
	}
}
