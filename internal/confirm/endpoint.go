package confirm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/registryapi"
)

// NewEndpoint serves confirmations as requests on
// push.registry.confirm.<app> (events.ConfirmRequestSubject), in micro's
// queue group so that one replica answers: it takes the confirmation at
// once and says what became of it (confirmed, a duplicate, or why not,
// as a service error with a code). The subject's app is the authority.
// Stop the returned service to drain it.
func (s *Service) NewEndpoint(nc *nats.Conn) (micro.Service, error) {
	svc, err := micro.AddService(nc, micro.Config{
		Name:        events.ConfirmServiceName,
		Version:     "1.0.0",
		Description: "pushfleet confirmed delivery: a device's confirmation, answered at once",
		ErrorHandler: func(_ micro.Service, err *micro.NATSError) {
			s.cfg.Logger.Warn("confirm endpoint subscription error", "subject", err.Subject, "err", err.Description)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("confirm endpoint: %w", err)
	}
	if err := svc.AddEndpoint("confirm", micro.HandlerFunc(s.serve),
		micro.WithEndpointSubject(events.ConfirmRequestSubject("*"))); err != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("confirm endpoint: %w", err)
	}
	// Served once this returns: a first request from another connection
	// never meets "no responders".
	if err := nc.FlushTimeout(5 * time.Second); err != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("confirm endpoint: %w", err)
	}
	return svc, nil
}

func (s *Service) serve(req micro.Request) {
	app, _ := strings.CutPrefix(req.Subject(), events.ConfirmRequestSubject(""))
	if !events.ValidApp(app) {
		s.answerError(req, events.ConfirmCodeInvalid, fmt.Sprintf("subject %s: want %s with a valid app name",
			req.Subject(), events.ConfirmRequestSubject("<app>")))
		return
	}
	c, err := events.DecodeConfirmation(req.Data())
	if err != nil {
		s.m.Messages.WithLabelValues(s.m.App(app), "invalid").Inc()
		s.answerError(req, events.ConfirmCodeInvalid, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.PublishTimeout)
	defer cancel()
	dup, err := s.take(ctx, app, c, 0)
	if err != nil {
		code := events.ConfirmCodeRefused
		switch {
		case errors.Is(err, errInvalid):
			code = events.ConfirmCodeInvalid
		case errors.Is(err, errUnknownIntent):
			code = events.ConfirmCodeUnknown
		case errors.Is(err, errNotYet):
			s.m.Messages.WithLabelValues(s.m.App(app), "not_delivered").Inc()
		case category(err) == "error":
			code = events.ConfirmCodeInternal
			s.cfg.Logger.Error("confirm request failed", "app", app, "intent_id", c.IntentID, "err", err)
		}
		if code != events.ConfirmCodeInternal && !errors.Is(err, errNotYet) {
			s.m.Messages.WithLabelValues(s.m.App(app), category(err)).Inc()
		}
		s.answerError(req, code, err.Error())
		return
	}
	if err := req.RespondJSON(events.ConfirmAnswer{IntentID: c.IntentID, Outcome: events.Confirmed, Duplicate: dup}); err != nil {
		s.cfg.Logger.Warn("confirm endpoint: respond", "err", err)
	}
}

// answerError answers with a service error; the body repeats it in one
// readable line, as the registry's do.
func (s *Service) answerError(req micro.Request, code, desc string) {
	if desc == "" {
		desc = "internal error"
	}
	if code == events.ConfirmCodeInternal {
		desc = "internal error: retry"
	}
	if err := req.Error(code, desc, registryapi.ErrorBody(code, desc)); err != nil {
		s.cfg.Logger.Warn("confirm endpoint: respond", "err", err)
	}
}
