package events

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Publisher publishes intents for producers written in Go. It needs only the
// publishing half of a jetstream.JetStream.
type Publisher struct {
	js      jetstream.Publisher
	limits  Limits
	horizon time.Duration
	now     func() time.Time
}

// PublisherOption configures a Publisher.
type PublisherOption func(*Publisher)

// WithScheduleHorizon sets how far ahead send_at may be, to match the
// dispatcher's --schedule-horizon (default DefaultScheduleHorizon); d <= 0
// leaves the bound to the dispatcher alone.
func WithScheduleHorizon(d time.Duration) PublisherOption {
	return func(p *Publisher) { p.horizon = d }
}

// NewPublisher returns a Publisher that validates with DefaultLimits and
// DefaultScheduleHorizon.
func NewPublisher(js jetstream.Publisher, opts ...PublisherOption) *Publisher {
	p := &Publisher{js: js, limits: DefaultLimits, horizon: DefaultScheduleHorizon, now: time.Now}
	for _, o := range opts {
		o(p)
	}
	return p
}

// IntentMsgID is the Nats-Msg-Id of an intent: scoped by app, so that two
// apps using the same id never swallow each other's intents.
func IntentMsgID(app, id string) string { return app + ":" + id }

// Publish validates in and publishes it on push.intents.<app> with
// Nats-Msg-Id "<app>:<id>", so a retried publish inside the stream's dedup
// window is stored once (PubAck.Duplicate tells; the dispatcher also drops a
// repeat later in the window, across restarts).
//
// An intent with send_at is published the same way: the dispatcher holds it
// in a schedule of its own until then, so producers need no rights on
// schedule subjects. Nothing here sets a TTL or a schedule header: pushfleet
// decides expiry itself and reports it as the "expired" outcome.
func (p *Publisher) Publish(ctx context.Context, in *Intent) (*jetstream.PubAck, error) {
	msg, err := p.message(in)
	if err != nil {
		return nil, err
	}
	return p.js.PublishMsg(ctx, msg)
}

// message checks in as Publish promises and returns the message carrying
// it: every way of publishing (Publish, PublishAsync) goes through here.
func (p *Publisher) message(in *Intent) (*nats.Msg, error) {
	if err := in.Validate(p.limits); err != nil {
		return nil, err
	}
	now := p.now()
	if in.Expired(now) {
		return nil, &ValidationError{Field: "notification.expiry", Reason: "is already in the past"}
	}
	if err := in.CheckSendAt(now, p.horizon); err != nil {
		return nil, err
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode intent: %w", err)
	}
	if err := checkSize(len(body), p.limits.withDefaults()); err != nil {
		return nil, err
	}
	return intentMsg(in.App, in.ID, body), nil
}

// intentMsg is the message of an encoded intent, the same for Publish,
// PublishAsync and a Session: on push.intents.<app>, with the intent id
// header and Nats-Msg-Id "<app>:<id>". The Nats-Msg-Id is written here
// rather than by jetstream.WithMsgID (which writes the same header) to
// spare every publish the options' allocations.
func intentMsg(app, id string, body []byte) *nats.Msg {
	msg := nats.NewMsg(IntentSubject(app))
	msg.Data = body
	msg.Header.Set(HeaderIntentID, id)
	msg.Header.Set(jetstream.MsgIDHeader, IntentMsgID(app, id))
	return msg
}
