package confirm

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/feedback"
	"github.com/pushfleet/pushfleet/internal/puback"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// publishOutcomes stores confirmed or unconfirmed events on
// push.feedback.<platform>.<app>.confirm, the one subject this service may
// publish feedback on, each with the Nats-Msg-Id of its final outcome
// (feedback.MsgID): reported again inside the dedup window, it is stored
// once. first says whether this is the first report (counted in metrics)
// or a repeat after a failure.
func (s *Service) publishOutcomes(ctx context.Context, first bool, fbs ...events.Feedback) error {
	futures := make([]jetstream.PubAckFuture, 0, len(fbs))
	for i := range fbs {
		f := &fbs[i]
		b, err := json.Marshal(f)
		if err != nil {
			return fmt.Errorf("encode feedback: %w", err)
		}
		msg := &nats.Msg{Subject: events.ConfirmFeedbackSubject(f.Platform, f.App), Data: b}
		fut, err := s.js.PublishMsgAsync(msg, jetstream.WithMsgID(feedback.MsgID(f)))
		if err != nil {
			return fmt.Errorf("publish %s feedback: %w", f.Outcome, err)
		}
		futures = append(futures, fut)
	}
	if err := puback.WaitAll(ctx, futures); err != nil {
		return err
	}
	for i := range fbs {
		if first {
			s.m.Outcomes.WithLabelValues(s.m.App(fbs[i].App), string(fbs[i].Outcome)).Inc()
		}
	}
	return nil
}

// outcome is the event reporting token t of w with o.
func (s *Service) outcome(w *Watch, t *TokenState, o events.Outcome, reason string) events.Feedback {
	return events.Feedback{App: w.App, Platform: t.Platform, Token: t.Token, Outcome: o, Reason: reason,
		IntentID: w.ID, At: s.cfg.Now().UTC()}
}
