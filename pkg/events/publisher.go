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
	js     jetstream.Publisher
	limits Limits
	now    func() time.Time
}

// NewPublisher returns a Publisher that validates with DefaultLimits.
func NewPublisher(js jetstream.Publisher) *Publisher {
	return &Publisher{js: js, limits: DefaultLimits, now: time.Now}
}

// Publish validates in and publishes it on push.intents.<app> with
// Nats-Msg-Id set to its id, so a retried publish inside the stream's dedup
// window is stored once (PubAck.Duplicate tells). An intent with an expiry
// gets a per-message TTL, so it is never delivered after it; one with
// send_at in the future is stored as a schedule that fires at that time and
// can be cancelled with Cancel until then.
func (p *Publisher) Publish(ctx context.Context, in *Intent) (*jetstream.PubAck, error) {
	if err := in.Validate(p.limits); err != nil {
		return nil, err
	}
	now := p.now()
	if in.Expired(now) {
		return nil, &ValidationError{Field: "notification.expiry", Reason: "is already in the past"}
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode intent: %w", err)
	}
	msg := nats.NewMsg(IntentSubject(in.App))
	msg.Data = body
	msg.Header.Set(HeaderIntentID, in.ID)
	opts := []jetstream.PublishOpt{jetstream.WithMsgID(in.ID)}
	ttl := time.Duration(0)
	if exp := in.Notification.Expiry; exp != nil {
		ttl = ceilSecond(exp.Sub(now))
	}
	if in.SendAt != nil && in.SendAt.After(now) {
		// Schedules have one-second resolution: round up so that the push
		// never fires before send_at.
		at := in.SendAt.Truncate(time.Second)
		if at.Before(*in.SendAt) {
			at = at.Add(time.Second)
		}
		msg.Subject = ScheduleSubject(in.App, in.ID)
		opts = append(opts, jetstream.WithScheduleAt(at), jetstream.WithScheduleTarget(IntentSubject(in.App)))
		if exp := in.Notification.Expiry; exp != nil {
			if !exp.After(at) {
				return nil, &ValidationError{Field: "notification.expiry", Reason: "is not after send_at: the push would never be sent"}
			}
			// The schedule itself lives until it fires; the intent it
			// produces lives until the notification expires.
			opts = append(opts, jetstream.WithMsgTTL(ceilSecond(at.Sub(now))+time.Minute),
				jetstream.WithScheduleTTL(ceilSecond(exp.Sub(at))))
		}
	} else if ttl > 0 {
		opts = append(opts, jetstream.WithMsgTTL(ttl))
	}
	return p.js.PublishMsg(ctx, msg, opts...)
}

// ceilSecond rounds d up to whole seconds (Nats-TTL's unit), at least 1s.
func ceilSecond(d time.Duration) time.Duration {
	s := (d + time.Second - 1) / time.Second * time.Second
	if s < time.Second {
		s = time.Second
	}
	return s
}
