package confirm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/confirmstate"
	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// newWatch builds the state of a watch record stored at start.
func (s *Service) newWatch(app string, body []byte, start time.Time) (*confirmstate.Watch, error) {
	var in events.Intent
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("%w watch record: %v", events.ErrMalformed, err)
	}
	switch {
	case in.App != app:
		return nil, fmt.Errorf("watch record for app %q on the subject of app %q", in.App, app)
	case in.Confirm == nil:
		return nil, fmt.Errorf("watch record of intent %q without confirm", in.ID)
	}
	if in.ID == "" || in.Confirm.Within <= 0 || in.Confirm.ResendEvery < 0 {
		return nil, fmt.Errorf("watch record of intent %q: no id or a bad confirm", in.ID)
	}
	start = start.UTC()
	return &confirmstate.Watch{App: app, ID: in.ID, Intent: body, Start: start, Deadline: start.Add(in.Confirm.Within.D()),
		Every: in.Confirm.ResendEvery.D(), Resends: in.Confirm.Resends(), Next: 1}, nil
}

// handleWatch starts watching an intent the dispatcher dispatched: its
// state, then its first timer. A redelivered record finds the state there
// and stores the same timer again, which the stream drops as a duplicate.
func (s *Service) handleWatch(ctx context.Context, msg jetstream.Msg) consumer.Verdict {
	// The subject is the authority: only the dispatcher may publish it.
	app, _, _ := strings.Cut(strings.TrimPrefix(msg.Subject(), events.ConfirmRoot+".watch."), ".")
	meta, err := msg.Metadata()
	if err != nil {
		return consumer.RetryAfter(0, "metadata", err.Error())
	}
	w, err := s.newWatch(app, msg.Data(), meta.Timestamp)
	if err != nil {
		return consumer.DeadLetter(app, "invalid", err.Error())
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if _, err := createJSON(ctx, s.kv, confirmstate.WatchKey(w.App, w.ID), w); err != nil {
		if !isConflict(err) {
			return consumer.RetryAfter(0, "kv", "store watch: "+err.Error())
		}
		cur, err := confirmstate.Get[confirmstate.Watch](ctx, s.kv, confirmstate.WatchKey(w.App, w.ID))
		if err != nil {
			return consumer.RetryAfter(0, "kv", "read watch: "+err.Error())
		}
		w = &cur.Value
	}
	if !w.Done {
		if err := s.arm(ctx, w, w.Next); err != nil {
			return consumer.RetryAfter(0, "publish", err.Error())
		}
	}
	s.m.Watched.WithLabelValues(s.m.App(app)).Inc()
	s.cfg.Logger.Info("watching for confirmations", "app", w.App, "intent_id", w.ID,
		"deadline", w.Deadline.Format(time.RFC3339), "resends", w.Resends)
	return consumer.Done()
}

// tick is the body of a timer: tick N of intent IntentID of App.
type tick struct {
	App      string `json:"app"`
	IntentID string `json:"intent_id"`
	N        int    `json:"n"`
}

// arm stores the timer of tick n of w: a one-shot schedule in
// PUSH_CONFIRM_TIMERS firing onto push.confirm.due.<app> (rounded up to
// the second, the schedules' resolution), or the tick itself when it is
// due already. Its Nats-Msg-Id is the tick's, so arming twice stores one.
func (s *Service) arm(ctx context.Context, w *confirmstate.Watch, n int) error {
	body, err := json.Marshal(tick{App: w.App, IntentID: w.ID, N: n})
	if err != nil {
		return err
	}
	at := w.TickAt(n)
	if t := at.Truncate(time.Second); t.Before(at) {
		at = t.Add(time.Second)
	}
	id := jetstream.WithMsgID("tick:" + events.IntentMsgID(w.App, w.ID) + ":" + strconv.Itoa(n))
	var m *nats.Msg
	opts := []jetstream.PublishOpt{id}
	if at.After(s.cfg.Now()) {
		m = nats.NewMsg(events.ConfirmTimerSubject(w.App, w.ID))
		opts = append(opts, jetstream.WithScheduleAt(at), jetstream.WithScheduleTarget(events.ConfirmDueSubject(w.App)))
	} else {
		m = nats.NewMsg(events.ConfirmDueSubject(w.App))
	}
	m.Data = body
	m.Header.Set(events.HeaderIntentID, w.ID)
	m.Header.Set(events.HeaderApp, w.App)
	if _, err := s.js.PublishMsg(ctx, m, opts...); err != nil {
		return fmt.Errorf("store timer %d of %s/%s: %w", n, w.App, w.ID, err)
	}
	return nil
}

var errNoTick = errors.New("not a tick")

func decodeTick(b []byte) (*tick, error) {
	var t tick
	if err := json.Unmarshal(b, &t); err != nil || t.N < 1 || !events.ValidApp(t.App) || t.IntentID == "" {
		return nil, fmt.Errorf("%w: %s", errNoTick, clip(b))
	}
	return &t, nil
}

func clip(b []byte) string {
	if len(b) > 128 {
		b = b[:128]
	}
	return strconv.Quote(string(b))
}
