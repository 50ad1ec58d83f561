package events

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Confirm publishes that a device confirmed a notification of app that
// asked for it (Intent.Confirm), on push.confirm.<app> with Nats-Msg-Id
// ConfirmationMsgID: a retried publish is stored once. The confirmation
// service reports the token confirmed and stops re-sending to it; a
// confirmation for an intent or token it does not await is dead-lettered
// with the reason (stage confirm).
func (p *Publisher) Confirm(ctx context.Context, app string, c Confirmation) (*jetstream.PubAck, error) {
	if !ValidApp(app) {
		return nil, fmt.Errorf("%w: app %q: must be 1-64 characters of A-Z a-z 0-9 _ -", ErrInvalidConfirmation, clip(app))
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	body, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("encode confirmation: %w", err)
	}
	msg := nats.NewMsg(ConfirmSubject(app))
	msg.Data = body
	msg.Header.Set(HeaderIntentID, c.IntentID)
	return p.js.PublishMsg(ctx, msg, jetstream.WithMsgID(ConfirmationMsgID(app, c.IntentID, c.Token)))
}
