package faulttest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

const (
	// streamFullMax is the max_msgs an admin sets on PUSH_INTENTS.
	streamFullMax = 50
	// streamFullPublished is how many intents are published into it while
	// no dispatcher runs.
	streamFullPublished = 100
)

// An admin sets max_msgs on PUSH_INTENTS while no dispatcher runs, and the
// producers go on publishing. Publishes beyond the limit must be refused to
// the producer (an error it can act on), and every intent the stream
// acknowledged delivered: a stream that discards old messages used to
// acknowledge all of them and drop the oldest unseen.
func TestStreamFull(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "stream-full")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := h.jsc.Stream(ctx, events.StreamIntents)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.MaxMsgs = streamFullMax
	if _, err := h.jsc.UpdateStream(ctx, cfg); err != nil {
		t.Fatalf("admin: set max_msgs on %s: %v", events.StreamIntents, err)
	}

	accepted, refused := 0, 0
	var refusal error
	for i := range streamFullPublished {
		var tgs []events.Target
		for _, p := range events.Platforms {
			tgs = append(tgs, events.Target{Platform: p, Token: h.token(p, i)})
		}
		if _, err := h.tryPublish(intent(fmt.Sprintf("full-%d", i), tgs)); err != nil {
			refused++
			if refusal == nil {
				refusal = err
			}
			continue
		}
		accepted++
	}
	stored := h.messages(events.StreamIntents)

	h.runInProcess(services{dispatcher: true, sink: true, senders: events.Platforms})
	h.settle()
	tl := h.tally()
	tl.Extra = append(tl.Extra, fmt.Sprintf("max_msgs=%d published=%d acknowledged=%d refused=%d stored=%d refusal=%q",
		streamFullMax, streamFullPublished, accepted, refused, stored, fmt.Sprint(refusal)))
	h.report(tl)
	if accepted != streamFullMax || refused != streamFullPublished-streamFullMax {
		t.Errorf("%d publishes acknowledged and %d refused, want %d and %d: a full stream must refuse new work, not drop old work",
			accepted, refused, streamFullMax, streamFullPublished-streamFullMax)
	}
	if want := int64(accepted * len(events.Platforms)); h.totalDelivered() != want {
		t.Errorf("the providers accepted %d notifications, want the %d of the acknowledged intents", h.totalDelivered(), want)
	}
}
