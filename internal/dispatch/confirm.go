package dispatch

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// watchConfirm records, before an intent that asks for confirmation is
// dispatched, that the confirmation service must watch it: the intent on
// push.confirm.watch.<app>.<hash> (PUSH_CONFIRM). It comes first so that
// the service knows the intent before any of its feedback; the stream
// keeps one record per app and id (Nats-Msg-Id), so a redelivered intent
// records nothing new, and the record's time starts the confirmation
// window. Intents without Confirm cost nothing.
func (d *Dispatcher) watchConfirm(ctx context.Context, in *events.Intent) error {
	if in.Confirm == nil {
		return nil
	}
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode confirmation watch: %w", err)
	}
	m := nats.NewMsg(events.ConfirmWatchSubject(in.App, in.ID))
	m.Data = body
	m.Header.Set(events.HeaderIntentID, in.ID)
	m.Header.Set(events.HeaderApp, in.App)
	ctx, cancel := context.WithTimeout(ctx, d.cfg.PublishTimeout)
	defer cancel()
	if _, err := d.js.PublishMsg(ctx, m, jetstream.WithMsgID("watch:"+events.IntentMsgID(in.App, in.ID))); err != nil {
		d.cfg.Logger.Warn("confirmation watch failed, will retry", "intent_id", in.ID, "app", in.App, "err", err)
		return fmt.Errorf("store confirmation watch: %w", err)
	}
	return nil
}
