package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/feedback"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// errNotScheduled: pushctl cancel found no schedule for the id.
var errNotScheduled = errors.New("no scheduled intent")

// cancel deletes a scheduled intent's schedule from PUSH_SCHEDULES before
// it fires and reports each explicit token cancelled. An alias or tag is
// resolved only when due, so its cancellation is one event per platform with
// no token.
func cancelCommand() *command {
	return &command{
		name:    "cancel",
		args:    "--app A ID",
		summary: "drop a scheduled (send_at) intent before it fires; its tokens get \"cancelled\" feedback",
		minArgs: 1, maxArgs: 1,
		setup: func(c *cli, fs *flag.FlagSet) func(context.Context, []string) error {
			app := fs.String("app", "", "app of the scheduled intent (required)")
			return func(ctx context.Context, args []string) error {
				id := args[0]
				if err := requireApp("cancel", *app); err != nil {
					return err
				}
				nc, js, err := c.connect(false)
				if err != nil {
					return err
				}
				defer nc.Close()
				in, due, err := deleteSchedule(ctx, js, *app, id)
				if err != nil {
					return err
				}
				fbs := cancelledEvents(in, time.Now().UTC())
				pctx, stop := context.WithTimeout(ctx, 30*time.Second)
				defer stop()
				if err := feedback.NewPublisher(js).Publish(pctx, fbs); err != nil {
					return fmt.Errorf("cancelled %s, but its cancelled feedback was not stored: %w", id, err)
				}
				what := describeTargets(in)
				if len(in.Targets.Tokens) > 0 {
					what = fmt.Sprintf("%d token(s) reported cancelled", len(fbs))
				}
				if c.json() {
					return c.printJSON(map[string]any{"id": id, "app": *app, "due": due, "targets": describeTargets(in),
						"cancelled_events": len(fbs)})
				}
				fmt.Fprintf(c.stdout, "cancelled %s (app %s, was due %s): %s\n", id, *app, due, what)
				return nil
			}
		},
	}
}

// deleteSchedule removes the schedule of app's intent id and returns the
// intent it held and when it was due.
func deleteSchedule(ctx context.Context, js jetstream.JetStream, app, id string) (*events.Intent, string, error) {
	s, err := js.Stream(ctx, events.StreamSchedules)
	if err != nil {
		return nil, "", err
	}
	m, err := s.GetLastMsgForSubject(ctx, events.ScheduleSubject(app, id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, "", fmt.Errorf("%w %q for app %q: it already fired, was cancelled, never existed, "+
			"or was published moments ago and not yet scheduled by the dispatcher", errNotScheduled, id, app)
	}
	if err != nil {
		return nil, "", err
	}
	// The dispatcher validated it (under its own limits): only read it.
	var in events.Intent
	if err := json.Unmarshal(m.Data, &in); err != nil {
		return nil, "", fmt.Errorf("schedule of %q holds an unreadable intent: %w", id, err)
	}
	if err := s.DeleteMsg(ctx, m.Sequence); err != nil {
		// The server says only "unsuccessful": gone now means it fired.
		if _, gerr := s.GetMsg(ctx, m.Sequence); errors.Is(gerr, jetstream.ErrMsgNotFound) {
			return nil, "", fmt.Errorf("%w %q for app %q: it fired while being cancelled", errNotScheduled, id, app)
		}
		return nil, "", err
	}
	return &in, m.Header.Get(jetstream.ScheduleHeader), nil
}

// cancelledEvents is one cancelled event per distinct explicit token, or,
// for an alias or tag (never resolved), one per platform without a token.
func cancelledEvents(in *events.Intent, at time.Time) []events.Feedback {
	ev := func(p events.Platform, token, reason string) events.Feedback {
		return events.Feedback{App: in.App, Platform: p, Token: token, Outcome: events.Cancelled,
			Reason: reason, IntentID: in.ID, At: at}
	}
	var out []events.Feedback
	if len(in.Targets.Tokens) == 0 {
		for _, p := range events.Platforms {
			out = append(out, ev(p, "", "cancelled before send_at; the "+describeTargets(in)+
				" was not resolved, so no device is named"))
		}
		return out
	}
	seen := map[events.Target]bool{}
	for _, t := range in.Targets.Tokens {
		if !seen[t] {
			seen[t] = true
			out = append(out, ev(t.Platform, t.Token, "cancelled before send_at"))
		}
	}
	return out
}

func describeTargets(in *events.Intent) string {
	switch {
	case in.Targets.Alias != "":
		return fmt.Sprintf("alias %q", in.Targets.Alias)
	case in.Targets.Tag != "":
		return fmt.Sprintf("tag %q", in.Targets.Tag)
	}
	return fmt.Sprintf("%d tokens", len(in.Targets.Tokens))
}
