package providers

import (
	"context"
	"time"

	"github.com/pushfleet/pushfleet/internal/feedback"
	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/mi"
)

// MiInvalidPoll turns MiPush's invalid-regid feed into invalid_token
// feedback: Xiaomi hands out each invalid regid once, so every regid the
// poller fetches is published before the next poll.
func MiInvalidPoll(env *fleet.Env, s *mi.Sender, every time.Duration) (fleet.Service, error) {
	p, err := mi.NewPoller(s, mi.PollerConfig{Interval: every, Logger: env.Logger.With("component", "mi-feedback-poll")})
	if err != nil {
		return nil, err
	}
	return miPoll{p: p, fb: feedback.NewPublisher(env.JS), env: env}, nil
}

type miPoll struct {
	p   *mi.Poller
	fb  *feedback.Publisher
	env *fleet.Env
}

func (m miPoll) Run(ctx context.Context) error {
	return m.p.Run(ctx, func(app string, regids []string) {
		now := time.Now().UTC()
		fbs := make([]events.Feedback, len(regids))
		for i, r := range regids {
			fbs[i] = events.Feedback{App: app, Platform: events.Mi, Token: r, Outcome: events.InvalidToken,
				Reason: "fetch_invalid_regids", At: now}
		}
		// These regids are gone from Xiaomi once fetched: keep trying to
		// store them until shutdown.
		for attempt := 1; ; attempt++ {
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			err := m.fb.Publish(pctx, fbs)
			cancel()
			if err == nil {
				return
			}
			m.env.Logger.Warn("publishing polled invalid regids failed, retrying", "app", app, "regids", len(fbs), "err", err)
			select {
			case <-ctx.Done():
				m.env.Logger.Error("shutdown with polled invalid regids unpublished", "app", app, "regids", len(fbs))
				return
			case <-time.After(min(time.Duration(attempt)*time.Second, 10*time.Second)):
			}
		}
	})
}
