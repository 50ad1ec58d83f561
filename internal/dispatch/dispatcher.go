package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/feedback"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/tracing"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// ErrNoRegistry: an alias, tag or all intent reached a dispatcher without a registry.
var ErrNoRegistry = errors.New("alias, tag and all targets need the token registry")

// Dispatcher is the consumer.Handler of PUSH_INTENTS (push.intents.<app>)
// and of the due intents its own schedules release in PUSH_SCHEDULES
// (push.due.<app>).
type Dispatcher struct {
	cfg      Config
	js       jetstream.Publisher
	fb       *feedback.Publisher
	m        *metrics.Fleet
	audience Audience
	suppress Suppressor
	known    map[string]bool // nil: every valid app name is accepted
	coal     *coalescer      // nil: no coalescing (Config.Linger < 0)
	now      func() time.Time
}

// New returns a Dispatcher. audience and suppress may be nil: then alias and
// tag intents are dead-lettered and nothing is suppressed.
func New(cfg Config, js jetstream.Publisher, m *metrics.Fleet, audience Audience, suppress Suppressor) (*Dispatcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	d := &Dispatcher{cfg: cfg, js: js, fb: feedback.NewPublisher(js), m: m,
		audience: audience, suppress: suppress, now: time.Now}
	if cfg.Linger > 0 {
		d.coal = newCoalescer(d, cfg.Linger)
	}
	if len(cfg.Apps) > 0 {
		d.known = make(map[string]bool, len(cfg.Apps))
		for _, app := range cfg.Apps {
			d.known[app] = true
		}
		// Only known apps get their own metric label.
		m.SetKnownApps(cfg.Apps)
	}
	return d, nil
}

// Handle takes one intent: checks it at intake, drops a repeat of an id
// already taken, holds a future send_at in a schedule, and dispatches the
// rest. Due intents (push.due.<app>) were checked and deduplicated when
// they were scheduled, so they are dispatched at once.
//
// Handle is one span (tracing.SpanDispatch) under the intent's traceparent,
// or the root of a new trace when it has none; the jobs and feedback
// events it publishes carry that span's context.
func (d *Dispatcher) Handle(ctx context.Context, msg jetstream.Msg) consumer.Verdict {
	ctx, span := tracing.Start(ctx, tracing.SpanDispatch, trace.SpanKindConsumer)
	// Counted from the start: an intent still at intake may soon join a
	// coalesced job, which waits for it (at most the linger).
	ctx, release := d.hold(ctx)
	defer release()
	v := d.handle(ctx, span, msg)
	consumer.EndSpan(span, v)
	return v
}

func (d *Dispatcher) handle(ctx context.Context, span trace.Span, msg jetstream.Msg) consumer.Verdict {
	in, due, v := d.intake(msg)
	if v != nil {
		return *v
	}
	if span.IsRecording() {
		span.SetAttributes(attribute.String(tracing.AttrApp, in.App), attribute.String(tracing.AttrIntentID, in.ID),
			attribute.Bool(tracing.AttrDue, due))
	}
	// The message's metadata (stream sequence, timestamp) is parsed once:
	// dedup, the batcher and a dead job all read it.
	meta, metaErr := msg.Metadata()
	if due {
		if err := d.watchConfirm(ctx, in); err != nil {
			return consumer.RetryAfter(0, "publish", err.Error())
		}
		return d.dispatch(ctx, msg, meta, metaErr, in)
	}
	if v, done := d.dedup(ctx, meta, metaErr, in); done {
		return v
	}
	if at, later := d.scheduleAt(in); later {
		return d.schedule(ctx, in, msg.Data(), at)
	}
	if err := d.watchConfirm(ctx, in); err != nil {
		return consumer.RetryAfter(0, "publish", err.Error())
	}
	return d.dispatch(ctx, msg, meta, metaErr, in)
}

// intake decodes and checks an intent against its subject; a non-nil
// verdict dead-letters it with the reason.
func (d *Dispatcher) intake(msg jetstream.Msg) (*events.Intent, bool, *consumer.Verdict) {
	app, due, ok := parseSubject(msg.Subject())
	if !ok {
		return nil, false, d.reject("", "", "subject", fmt.Sprintf(
			"subject %q is not %s.<app> or %s.<app> with a valid app name", msg.Subject(), events.IntentsRoot, events.DueRoot))
	}
	in, err := events.DecodeIntent(msg.Data(), d.cfg.Limits)
	if err != nil {
		id := ""
		if in != nil {
			id = in.ID
		}
		return nil, false, d.reject(app, id, category(err), err.Error())
	}
	// The subject is the authority: NATS permissions confine a producer to
	// its apps' subjects, never to what it writes in a body.
	if in.App != app {
		return nil, false, d.reject(app, in.ID, "app_mismatch",
			fmt.Sprintf("app %q in the body does not match subject app %q", in.App, app))
	}
	if d.known != nil && !d.known[app] {
		return nil, false, d.reject(app, in.ID, "unknown_app",
			fmt.Sprintf("unknown app %q: not among the dispatcher's apps (--apps, --apps-file)", app))
	}
	if !due {
		if err := in.CheckSendAt(d.now(), d.cfg.ScheduleHorizon); err != nil {
			return nil, false, d.reject(app, in.ID, "beyond_horizon", err.Error())
		}
	}
	return in, due, nil
}

// reject counts an intent refused at intake and dead-letters it with reason.
func (d *Dispatcher) reject(app, id, cat, reason string) *consumer.Verdict {
	d.m.Intents.WithLabelValues(d.m.App(app), cat).Inc()
	v := consumer.DeadLetter(app, cat, reason)
	v.IntentID = id
	return &v
}

// category is the bounded metric class of a decode error.
func category(err error) string {
	var ve *events.ValidationError
	switch {
	case errors.Is(err, events.ErrMalformed):
		return "malformed"
	case errors.As(err, &ve) && ve.Field == "(intent)":
		return "too_large"
	}
	return "invalid"
}

// parseSubject returns the app of push.intents.<app> or push.due.<app> and
// whether it is a due intent; ok is false for anything else.
func parseSubject(s string) (app string, due, ok bool) {
	for _, root := range [...]string{events.IntentsRoot, events.DueRoot} {
		if rest, found := strings.CutPrefix(s, root+"."); found {
			return rest, root == events.DueRoot, events.ValidApp(rest)
		}
	}
	return "", false, false
}

func (d *Dispatcher) event(in *events.Intent, t events.Target, o events.Outcome, reason string) events.Feedback {
	return events.Feedback{App: in.App, Platform: t.Platform, Token: t.Token, Outcome: o,
		Reason: reason, IntentID: in.ID, At: d.now().UTC()}
}

// publishFeedback stores feedback events, waiting at most PublishTimeout.
func (d *Dispatcher) publishFeedback(ctx context.Context, fbs []events.Feedback) error {
	if len(fbs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.PublishTimeout)
	defer cancel()
	return d.fb.Publish(ctx, fbs)
}
