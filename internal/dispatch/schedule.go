package dispatch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/tracing"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// idKey is the push_intent_ids key of an intent id in app: the id is
// hashed because ids may hold characters KV keys do not allow.
func idKey(app, id string) string {
	h := sha256.Sum256([]byte(id))
	var sum [32]byte
	hex.Encode(sum[:], h[:16])
	return app + "." + string(sum[:])
}

// dedup takes the intent's id for its app in push_intent_ids. The value is
// the message's stream sequence, so a redelivery of the same message (after
// a crash or a failed publish) is not taken for a repeat; done is true when
// the verdict is final (a repeat, or a retry when the bucket failed).
// meta and metaErr are the message's msg.Metadata().
func (d *Dispatcher) dedup(ctx context.Context, meta *jetstream.MsgMetadata, metaErr error, in *events.Intent) (consumer.Verdict, bool) {
	if d.cfg.IDs == nil {
		return consumer.Verdict{}, false
	}
	if metaErr != nil {
		return consumer.RetryAfter(0, "dedup", "no stream sequence: "+metaErr.Error()), true
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.PublishTimeout)
	defer cancel()
	key, seq := idKey(in.App, in.ID), strconv.FormatUint(meta.Sequence.Stream, 10)
	_, err := d.cfg.IDs.Create(ctx, key, []byte(seq))
	if err == nil {
		return consumer.Verdict{}, false
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return consumer.RetryAfter(0, "dedup", "intent ids: "+err.Error()), true
	}
	e, err := d.cfg.IDs.Get(ctx, key)
	if err != nil { // expired or deleted meanwhile: the next try takes it
		return consumer.RetryAfter(0, "dedup", "intent ids: "+err.Error()), true
	}
	if string(e.Value()) == seq {
		return consumer.Verdict{}, false
	}
	// The first copy has, or will have, its outcomes: no feedback for this one.
	d.m.Intents.WithLabelValues(d.m.App(in.App), "duplicate").Inc()
	d.cfg.Logger.Info("duplicate intent dropped", "intent_id", in.ID, "app", in.App,
		"seq", meta.Sequence.Stream, "first_seq", string(e.Value()))
	return consumer.Done(), true
}

// scheduleAt is when a send_at intent is due, rounded up to the second
// (schedules have one-second resolution, and a push never goes early);
// later is false when that is not in the future.
func (d *Dispatcher) scheduleAt(in *events.Intent) (at time.Time, later bool) {
	if in.SendAt == nil {
		return time.Time{}, false
	}
	at = in.SendAt.Truncate(time.Second)
	if at.Before(*in.SendAt) {
		at = at.Add(time.Second)
	}
	return at, at.After(d.now())
}

// schedule stores a one-shot schedule in PUSH_SCHEDULES that releases the
// intent on push.due.<app> at at; the intent is acked only once the schedule
// is stored. Only pushfleet's own headers go on it: a producer's header
// (a roll-up, say) must never act in a stream that allows them. The trace
// context is one of them, re-encoded from ctx (this dispatch span, or the
// producer's traceparent with tracing off): the server copies a
// schedule's headers onto the message it releases, so the due intent's
// dispatch continues the intent's trace instead of starting one.
func (d *Dispatcher) schedule(ctx context.Context, in *events.Intent, body []byte, at time.Time) consumer.Verdict {
	m := nats.NewMsg(events.ScheduleSubject(in.App, in.ID))
	m.Data = body
	m.Header.Set(events.HeaderIntentID, in.ID)
	m.Header.Set(events.HeaderApp, in.App)
	tracing.Inject(ctx, m)
	ctx, cancel := context.WithTimeout(ctx, d.cfg.PublishTimeout)
	defer cancel()
	_, err := d.js.PublishMsg(ctx, m, jetstream.WithMsgID("sched:"+events.IntentMsgID(in.App, in.ID)),
		jetstream.WithScheduleAt(at), jetstream.WithScheduleTarget(events.DueSubject(in.App)))
	if err != nil {
		d.cfg.Logger.Warn("schedule failed, will retry", "intent_id", in.ID, "app", in.App, "err", err)
		return consumer.RetryAfter(0, "publish", "store schedule: "+err.Error())
	}
	d.m.Intents.WithLabelValues(d.m.App(in.App), "scheduled").Inc()
	d.cfg.Logger.Info("intent scheduled", "intent_id", in.ID, "app", in.App, "due", at.UTC().Format(time.RFC3339))
	return consumer.Done()
}
