package confirm

import (
	"context"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/confirmstate"
	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// reasonLate is the reason of a token delivered after its window ended.
const reasonLate = "delivered after confirm.within ended"

// handleFeedback learns the outcomes of watched intents' tokens: a
// delivered token awaits confirmation (or, once the window is closing, is
// reported unconfirmed at once); any other final outcome is kept for
// pushctl status. Feedback of other intents costs one look-up per intent.
// What the feedback-sink refuses is not this service's to judge: a message
// that does not decode is skipped.
func (s *Service) handleFeedback(ctx context.Context, msg jetstream.Msg) consumer.Verdict {
	if strings.HasSuffix(msg.Subject(), "."+events.ConfirmSuffix) {
		return consumer.Done() // this service's own outcomes
	}
	fbs, err := events.DecodeFeedbackEvents(msg.Data())
	if err != nil {
		return consumer.Done()
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	// By intent: one look-up each, one record per token, then one more
	// read of the watch for the tokens delivered.
	byIntent := map[string][]*events.Feedback{}
	var order []string
	for i := range fbs {
		f := &fbs[i]
		if f.IntentID == "" || f.Token == "" || f.Outcome == events.Failed ||
			f.Outcome == events.Confirmed || f.Outcome == events.Unconfirmed {
			continue
		}
		if _, ok := byIntent[f.IntentID]; !ok {
			order = append(order, f.IntentID)
		}
		byIntent[f.IntentID] = append(byIntent[f.IntentID], f)
	}
	for _, id := range order {
		group := byIntent[id]
		w, err := s.watchOf(ctx, group[0].App, id)
		if err != nil {
			return consumer.RetryAfter(0, "kv", "read watch: "+err.Error())
		}
		if w == nil {
			continue
		}
		if err := s.learn(ctx, w, group); err != nil {
			return consumer.RetryAfter(0, "kv", err.Error())
		}
	}
	return consumer.Done()
}

// watchOf is lookup for feedback, remembering its answer: only the app
// and id of the watch returned are to be relied on.
func (s *Service) watchOf(ctx context.Context, app, id string) (*confirmstate.Watch, error) {
	key := app + "\x00" + id
	if watched, known := s.watched(key); known {
		if !watched {
			return nil, nil
		}
		return &confirmstate.Watch{App: app, ID: id}, nil
	}
	w, err := s.lookup(ctx, app, id)
	if err != nil {
		return nil, err
	}
	s.remember(key, w != nil)
	if w == nil {
		return nil, nil
	}
	return &w.Value, nil
}

// learn records the outcomes fbs of w's tokens. A token already known
// (confirmed before its delivered outcome came, or a redelivery) keeps its
// state.
func (s *Service) learn(ctx context.Context, w *confirmstate.Watch, fbs []*events.Feedback) error {
	var delivered []string
	for _, f := range fbs {
		key := confirmstate.TokenKey(w.App, w.ID, f.Token)
		ts := confirmstate.TokenState{Platform: f.Platform, Token: f.Token, State: f.Outcome, At: f.At}
		if _, err := createJSON(ctx, s.kv, key, &ts); err != nil && !isConflict(err) {
			return err
		}
		if f.Outcome == events.Delivered {
			delivered = append(delivered, key)
		}
	}
	if len(delivered) == 0 {
		return nil
	}
	// The window may have begun closing after its last tick listed the
	// tokens: then these are reported here.
	cur, err := confirmstate.Get[confirmstate.Watch](ctx, s.kv, confirmstate.WatchKey(w.App, w.ID))
	if err != nil {
		return err
	}
	if !cur.Value.Closing && !cur.Value.Done {
		return nil
	}
	for _, key := range delivered {
		if err := s.giveUp(ctx, &cur.Value, key, reasonLate); err != nil {
			return err
		}
	}
	return nil
}

// giveUp reports the token at key unconfirmed if it is still only
// delivered, or again if it is unconfirmed already (a redelivery: the
// stream keeps one event inside the dedup window). Only the writer whose
// compare-and-set wins reports a token first.
func (s *Service) giveUp(ctx context.Context, w *confirmstate.Watch, key, reason string) error {
	fb, first, err := s.markUnconfirmed(ctx, w, key, reason)
	if err != nil || fb == nil {
		return err
	}
	return s.publishOutcomes(ctx, first, *fb)
}

// markUnconfirmed sets the token at key unconfirmed if it is still only
// delivered and returns the event reporting it: first when this call set
// it, not first when it was set already (its report may have been lost);
// nil when the token is in another state.
func (s *Service) markUnconfirmed(ctx context.Context, w *confirmstate.Watch, key, reason string) (*events.Feedback, bool, error) {
	for {
		e, err := confirmstate.Get[confirmstate.TokenState](ctx, s.kv, key)
		if err != nil {
			return nil, false, err
		}
		switch e.Value.State {
		case events.Unconfirmed:
			fb := s.outcome(w, &e.Value, events.Unconfirmed, reason)
			return &fb, false, nil
		case events.Delivered:
		default:
			return nil, false, nil
		}
		e.Value.State, e.Value.At = events.Unconfirmed, s.cfg.Now().UTC()
		_, err = updateJSON(ctx, s.kv, key, &e.Value, e.Revision)
		if isConflict(err) {
			continue // confirmed meanwhile, say: look again
		}
		if err != nil {
			return nil, false, err
		}
		fb := s.outcome(w, &e.Value, events.Unconfirmed, reason)
		return &fb, true, nil
	}
}
