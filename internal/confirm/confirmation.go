package confirm

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/confirmstate"
	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// Why a confirmation is not taken; each error wraps one, with the reason.
var (
	errInvalid = errors.New("invalid")
	// errUnknownIntent: no watched intent with this id.
	errUnknownIntent = errors.New("unknown_intent")
	// errLate: the token was reported unconfirmed, or its window ended
	// before it was delivered.
	errLate = errors.New("late")
	// errNotDelivered: the token's outcome is not delivered.
	errNotDelivered = errors.New("not_delivered")
	// errNotYet: the token has no outcome yet; it may be on its way.
	errNotYet = errors.New("not delivered yet")
)

// category is the metric and dead-letter class of a refusal.
func category(err error) string {
	for _, e := range []error{errInvalid, errUnknownIntent, errLate, errNotDelivered} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "error"
}

// handleConfirmation takes a confirmation from PUSH_CONFIRM. One the
// service cannot take is dead-lettered (stage confirm) with the reason;
// one that overtook its token's delivered outcome is retried.
func (s *Service) handleConfirmation(ctx context.Context, app string, msg jetstream.Msg) consumer.Verdict {
	c, err := events.DecodeConfirmation(msg.Data())
	if err != nil {
		return s.refuse(app, "", fmt.Errorf("%w: %w", errInvalid, err))
	}
	meta, err := msg.Metadata()
	if err != nil {
		return consumer.RetryAfter(0, "metadata", err.Error())
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	_, err = s.take(ctx, app, c, meta.Sequence.Stream)
	switch {
	case err == nil:
		return consumer.Done()
	case errors.Is(err, errNotYet):
		s.m.Messages.WithLabelValues(s.m.App(app), "not_delivered").Inc()
		return consumer.RetryAfter(s.cfg.NotDeliveredRetry, "not_delivered", err.Error())
	case category(err) != "error":
		return s.refuse(app, c.IntentID, err)
	}
	return consumer.RetryAfter(0, "confirm", err.Error())
}

// take applies confirmation c of app, from PUSH_CONFIRM sequence seq (0:
// a request, never redelivered): the first confirmation of a delivered
// token reports it confirmed, once; a repeat is counted and dropped
// (duplicate), unless it is the same message redelivered, whose outcome
// is published again (and stored once).
func (s *Service) take(ctx context.Context, app string, c *events.Confirmation, seq uint64) (duplicate bool, err error) {
	w, err := s.lookup(ctx, app, c.IntentID)
	if err == nil && w == nil && events.OriginalID(c.IntentID) != c.IntentID {
		w, err = s.lookup(ctx, app, events.OriginalID(c.IntentID)) // confirmed with a re-send's id
	}
	if err != nil {
		return false, fmt.Errorf("read watch: %w", err)
	}
	if w == nil {
		return false, fmt.Errorf("%w: intent %q of app %q is not awaiting confirmation: unknown, not dispatched yet, "+
			"without confirm, or its state expired", errUnknownIntent, c.IntentID, app)
	}
	key := confirmstate.TokenKey(app, w.Value.ID, c.Token)
	for {
		dup, retry, err := s.confirm(ctx, &w.Value, key, c, seq)
		if !retry {
			return dup, err
		}
	}
}

// confirm applies c to the token at key; retry is true when a concurrent
// writer changed it first.
func (s *Service) confirm(ctx context.Context, w *confirmstate.Watch, key string, c *events.Confirmation, seq uint64) (dup, retry bool, err error) {
	e, err := confirmstate.Get[confirmstate.TokenState](ctx, s.kv, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		if w.Done {
			return false, false, fmt.Errorf("%w: token of intent %q was never delivered and its window ended at %s",
				errLate, w.ID, w.Deadline.Format(time.RFC3339))
		}
		return false, false, fmt.Errorf("%w: token of intent %q has no delivered outcome yet", errNotYet, w.ID)
	}
	if err != nil {
		return false, false, fmt.Errorf("read token: %w", err)
	}
	ts := &e.Value
	if c.Platform != "" && c.Platform != ts.Platform {
		return false, false, fmt.Errorf("%w: platform %s does not match the token's, %s", errInvalid, c.Platform, ts.Platform)
	}
	first := true
	switch ts.State {
	case events.Confirmed:
		if seq == 0 || ts.ConfirmSeq != seq {
			s.m.Messages.WithLabelValues(s.m.App(w.App), "duplicate").Inc()
			return true, false, nil
		}
		// This very message confirmed it: the outcome may not be stored.
		first = false
	case events.Delivered:
		ts.State, ts.At, ts.ConfirmSeq = events.Confirmed, s.cfg.Now().UTC(), seq
		if _, err := updateJSON(ctx, s.kv, key, ts, e.Revision); err != nil {
			if isConflict(err) {
				return false, true, nil
			}
			return false, false, fmt.Errorf("write token: %w", err)
		}
	case events.Unconfirmed:
		return false, false, fmt.Errorf("%w: token of intent %q was reported unconfirmed at %s: confirm.within (%s) had ended",
			errLate, w.ID, ts.At.Format(time.RFC3339), w.Deadline.Sub(w.Start))
	default:
		return false, false, fmt.Errorf("%w: token of intent %q was not delivered: its outcome is %s", errNotDelivered, w.ID, ts.State)
	}
	if err := s.publishOutcomes(ctx, first, s.outcome(w, ts, events.Confirmed, "")); err != nil {
		return false, false, fmt.Errorf("report confirmed: %w", err)
	}
	if first {
		s.m.Messages.WithLabelValues(s.m.App(w.App), "confirmed").Inc()
	}
	return false, false, nil
}

// refuse counts and dead-letters a confirmation the service cannot take.
func (s *Service) refuse(app, id string, err error) consumer.Verdict {
	cat := category(err)
	s.m.Messages.WithLabelValues(s.m.App(app), cat).Inc()
	v := consumer.DeadLetter(app, cat, err.Error())
	v.IntentID = id
	return v
}
