package confirm

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/pushfleet/pushfleet/internal/confirmstate"
	"github.com/pushfleet/pushfleet/internal/feedback"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// errNotConfirmOutcome: only confirmed and unconfirmed are this service's to
// report; feedback.Publisher would route anything else to a sender's
// subject, which the service may not publish on.
var errNotConfirmOutcome = errors.New("not a confirmation outcome")

// outcomePublishes bounds the outcome messages awaiting their
// acknowledgement at once.
const outcomePublishes = 64

// publishOutcomes stores confirmed or unconfirmed events through
// feedback.Publisher, which routes them to
// push.feedback.<platform>.<app>.confirm (the one feedback subject this
// service may publish on), in the batch form with a Nats-Msg-Id. first says
// whether this is the first report (counted in metrics) or a repeat after a
// failure.
//
// One event per message: a batch's id covers exactly its events, and a
// token reported again (by this replica after a failure, or by another
// that found it already unconfirmed) may come with other tokens than the
// first time. Alone, its message's id is its own (feedback.BatchMsgID of
// one event), so inside the dedup window each outcome is stored once.
func (s *Service) publishOutcomes(ctx context.Context, first bool, fbs ...events.Feedback) error {
	for i := range fbs {
		if o := fbs[i].Outcome; o != events.Confirmed && o != events.Unconfirmed {
			return fmt.Errorf("%w: %q", errNotConfirmOutcome, o)
		}
	}
	pub := feedback.NewPublisher(s.js)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(outcomePublishes)
	for i := range fbs {
		g.Go(func() error { return pub.Publish(gctx, fbs[i:i+1]) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("publish confirmation outcomes: %w", err)
	}
	if first {
		for i := range fbs {
			s.m.Outcomes.WithLabelValues(s.m.App(fbs[i].App), string(fbs[i].Outcome)).Inc()
		}
	}
	return nil
}

// outcome is the event reporting token t of w with o.
func (s *Service) outcome(w *confirmstate.Watch, t *confirmstate.TokenState, o events.Outcome, reason string) events.Feedback {
	return events.Feedback{App: w.App, Platform: t.Platform, Token: t.Token, Outcome: o, Reason: reason,
		IntentID: w.ID, At: s.cfg.Now().UTC()}
}
