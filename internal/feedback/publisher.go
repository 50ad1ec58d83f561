// Package feedback publishes feedback events, the per-token outcomes that
// senders and the dispatcher report on push.feedback.<platform>.<app>.
package feedback

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/puback"
	"github.com/pushfleet/pushfleet/internal/tracing"
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
	// Each event carries the trace of the span that reports it.
	trace := tracing.Header(ctx)
	for i := range fbs {
		b, err := json.Marshal(&fbs[i])
		if err != nil {
			return fmt.Errorf("encode feedback: %w", err)
		}
		msg := &nats.Msg{Subject: events.FeedbackSubject(fbs[i].Platform, fbs[i].App), Data: b,
			Header: tracing.Copy(trace)}
		var opts []jetstream.PublishOpt
		if id := MsgID(&fbs[i]); id != "" {
			opts = append(opts, jetstream.WithMsgID(id))
		}
		f, err := p.js.PublishMsgAsync(msg, opts...)
		if err != nil {
			return fmt.Errorf("publish feedback: %w", err)
		}
		futures = append(futures, f)
	}
	return puback.WaitAll(ctx, futures)
}

// MsgID is the Nats-Msg-Id of a final outcome: one per app, intent, job,
// platform, token and outcome. A job redelivered after its feedback was
// stored (a server restart lost the ack) publishes the same events again;
// inside the dedup window the stream keeps one, so subscribers see each
// token's final outcome once. `failed` has no id: every attempt is news.
func MsgID(f *events.Feedback) string {
	if f.Outcome == events.Failed {
		return ""
	}
	// One stack buffer, hashed at once: the same bytes as writing each
	// part and its NUL separator in turn, without a hasher or per-part
	// conversions on the heap.
	var stack [512]byte
	buf := stack[:0]
	for _, part := range [...]string{f.App, f.IntentID, f.JobID, string(f.Platform), f.Token, string(f.Outcome)} {
		buf = append(buf, part...)
		buf = append(buf, 0)
	}
	sum := sha256.Sum256(buf)
	var out [3 + 32]byte
	copy(out[:], "fb-")
	hex.Encode(out[3:], sum[:16])
	return string(out[:])
}

// WaitAll is puback.WaitAll, under the name internal/dispatch still calls
// for its job publishes; it waits for any publish acknowledgements, not
// only feedback's. New code calls puback.WaitAll.
func WaitAll(ctx context.Context, futures []jetstream.PubAckFuture) error {
	return puback.WaitAll(ctx, futures)
}
