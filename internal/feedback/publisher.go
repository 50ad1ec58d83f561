// Package feedback publishes feedback events, the per-token outcomes that
// senders and the dispatcher report on push.feedback.<platform>.<app>.
package feedback

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Publisher publishes feedback events and waits until the stream stored them.
type Publisher struct {
	js jetstream.Publisher
}

// NewPublisher returns a Publisher over js.
func NewPublisher(js jetstream.Publisher) *Publisher { return &Publisher{js: js} }

// Publish stores every event in PUSH_FEEDBACK; it returns once all are
// acknowledged, or the first error.
func (p *Publisher) Publish(ctx context.Context, fbs []events.Feedback) error {
	if len(fbs) == 0 {
		return nil
	}
	futures := make([]jetstream.PubAckFuture, 0, len(fbs))
	for i := range fbs {
		b, err := json.Marshal(&fbs[i])
		if err != nil {
			return fmt.Errorf("encode feedback: %w", err)
		}
		msg := &nats.Msg{Subject: events.FeedbackSubject(fbs[i].Platform, fbs[i].App), Data: b}
		f, err := p.js.PublishMsgAsync(msg)
		if err != nil {
			return fmt.Errorf("publish feedback: %w", err)
		}
		futures = append(futures, f)
	}
	return WaitAll(ctx, futures)
}

// WaitAll waits for every publish acknowledgement, returning the first error.
func WaitAll(ctx context.Context, futures []jetstream.PubAckFuture) error {
	var first error
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			if first == nil {
				first = err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return first
}
