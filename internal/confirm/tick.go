package confirm

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/confirmstate"
	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// reasonWindow is the reason of a token not confirmed in its window.
const reasonWindow = "not confirmed within confirm.within"

// handleTick handles tick n of a watched intent: a re-send (n up to the
// intent's re-sends) or the end of its window. A tick already handled (a
// redelivery, another replica's) is dropped by the watch's Next.
func (s *Service) handleTick(ctx context.Context, msg jetstream.Msg) consumer.Verdict {
	t, err := decodeTick(msg.Data())
	if err != nil {
		return consumer.DeadLetter("", "malformed", err.Error())
	}
	// No bound on the whole tick: the end of a large window takes a while,
	// and the consumer keeps the message alive meanwhile. Each JetStream
	// request without a deadline gets the client's default timeout, and
	// the listing of the tokens its own (states).
	//
	// A lost compare-and-set means another copy of the tick (or a
	// replica) moved the watch on: read it again, which mostly finds the
	// tick handled.
	for attempt := 0; ; attempt++ {
		w, err := confirmstate.Get[confirmstate.Watch](ctx, s.kv, confirmstate.WatchKey(t.App, t.IntentID))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return consumer.Done() // expired with the bucket's max age
		}
		if err != nil {
			return consumer.RetryAfter(0, "kv", "read watch: "+err.Error())
		}
		switch {
		case w.Value.Done || t.N < w.Value.Next:
			return consumer.Done()
		case t.N > w.Value.Next:
			// Armed by tick N-1, which has not recorded itself yet (it
			// arms before it records): wait for it.
			return consumer.RetryAfter(0, "early", fmt.Sprintf("tick %d before tick %d is recorded", t.N, w.Value.Next))
		}
		if t.N <= w.Value.Resends {
			err = s.resend(ctx, w, t.N)
		} else {
			err = s.close(ctx, w)
		}
		switch {
		case err == nil:
			return consumer.Done()
		case isConflict(err) && attempt < maxConflicts:
			continue
		case isConflict(err):
			return consumer.RetryAfter(0, "conflict", "watch changed meanwhile")
		}
		return consumer.RetryAfter(0, "tick", err.Error())
	}
}

// outcomeBatch is how many outcomes the end of a window publishes before
// it waits for their acknowledgements.
const outcomeBatch = 1000

// maxConflicts bounds the lost compare-and-sets one message retries at
// once before it is redelivered later.
const maxConflicts = 5

// resend publishes re-send n of w to its delivered tokens not confirmed
// yet, arms the next tick, then records tick n done. Each step repeats
// harmlessly: the re-sends and the timer carry deterministic ids.
func (s *Service) resend(ctx context.Context, w *confirmstate.Entry[confirmstate.Watch], n int) error {
	states, err := s.states(ctx, &w.Value)
	if err != nil {
		return err
	}
	var targets []events.Target
	for _, e := range states {
		if e.Value.State == events.Delivered {
			targets = append(targets, events.Target{Platform: e.Value.Platform, Token: e.Value.Token})
		}
	}
	// Sorted: a repeated tick splits the tokens into the same parts.
	slices.SortFunc(targets, func(a, b events.Target) int {
		return cmp.Or(cmp.Compare(a.Platform, b.Platform), cmp.Compare(a.Token, b.Token))
	})
	in, err := w.Value.DecodeIntent()
	if err != nil {
		return err
	}
	// An expired notification is not sent again: its re-sends would only
	// come back expired. The window still ends as planned.
	if len(targets) > 0 && !in.Expired(s.cfg.Now()) {
		if err := s.publishResend(ctx, &w.Value, in, n, targets); err != nil {
			return err
		}
	} else {
		targets = nil
	}
	if err := s.arm(ctx, &w.Value, n+1); err != nil {
		return err
	}
	w.Value.Next, w.Value.Sent = n+1, n
	if _, err = updateJSON(ctx, s.kv, confirmstate.WatchKey(w.Value.App, w.Value.ID), &w.Value, w.Revision); err != nil {
		return err
	}
	// Counted by the tick's winner only: a concurrent copy's publishes
	// were duplicates.
	s.m.Resends.WithLabelValues(s.m.App(w.Value.App)).Add(float64(len(targets)))
	s.cfg.Logger.Info("re-sent to unconfirmed tokens", "app", w.Value.App, "intent_id", w.Value.ID, "resend", n, "tokens", len(targets))
	return nil
}

// publishResend publishes the re-send intents of tick n: the watched
// notification, without confirm or send_at, to targets, in parts of at
// most ResendBatch tokens, each with its deterministic id.
func (s *Service) publishResend(ctx context.Context, w *confirmstate.Watch, in *events.Intent, n int, targets []events.Target) error {
	in.Confirm, in.SendAt = nil, nil
	for k := 0; len(targets) > 0; k++ {
		part := targets[:min(len(targets), s.cfg.ResendBatch)]
		targets = targets[len(part):]
		in.ID = events.ResendID(w.ID, n, k)
		in.Targets = events.Targets{Tokens: part}
		body, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode re-send: %w", err)
		}
		m := nats.NewMsg(events.IntentSubject(w.App))
		m.Data = body
		m.Header.Set(events.HeaderIntentID, in.ID)
		if _, err := s.js.PublishMsg(ctx, m, jetstream.WithMsgID(events.IntentMsgID(w.App, in.ID))); err != nil {
			return fmt.Errorf("publish re-send %s: %w", in.ID, err)
		}
	}
	return nil
}

// close ends w's window: marks it closing (from then on a token delivered
// late is reported by its feedback), reports every token still only
// delivered unconfirmed, then marks it done.
func (s *Service) close(ctx context.Context, w *confirmstate.Entry[confirmstate.Watch]) error {
	key := confirmstate.WatchKey(w.Value.App, w.Value.ID)
	if !w.Value.Closing {
		w.Value.Closing = true
		rev, err := updateJSON(ctx, s.kv, key, &w.Value, w.Revision)
		if err != nil {
			return err
		}
		w.Revision = rev
	}
	states, err := s.states(ctx, &w.Value)
	if err != nil {
		return err
	}
	// Reported in batches: a window may close on many thousands of tokens.
	gave := 0
	var first, again []events.Feedback
	flush := func() error {
		if err := s.publishOutcomes(ctx, true, first...); err != nil {
			return err
		}
		if err := s.publishOutcomes(ctx, false, again...); err != nil {
			return err
		}
		first, again = first[:0], again[:0]
		return nil
	}
	for tk, e := range states {
		if e.Value.State != events.Delivered && e.Value.State != events.Unconfirmed {
			continue
		}
		fb, isFirst, err := s.markUnconfirmed(ctx, &w.Value, tk, reasonWindow)
		if err != nil {
			return err
		}
		if fb == nil {
			continue
		}
		gave++
		if isFirst {
			first = append(first, *fb)
		} else {
			again = append(again, *fb)
		}
		if len(first)+len(again) >= outcomeBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	w.Value.Done = true
	if _, err := updateJSON(ctx, s.kv, key, &w.Value, w.Revision); err != nil {
		return err
	}
	s.cfg.Logger.Info("confirmation window ended", "app", w.Value.App, "intent_id", w.Value.ID, "unconfirmed", gave)
	return nil
}

// states lists w's token states within PublishTimeout.
func (s *Service) states(ctx context.Context, w *confirmstate.Watch) (map[string]*confirmstate.Entry[confirmstate.TokenState], error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	return confirmstate.TokenStates(ctx, s.kv, w.App, w.ID)
}
