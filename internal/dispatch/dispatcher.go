package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/feedback"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// ErrNoRegistry: an alias or tag intent reached a dispatcher without a registry.
var ErrNoRegistry = errors.New("alias and tag targets need the token registry")

// Dispatcher is the consumer.Handler of PUSH_INTENTS.
type Dispatcher struct {
	cfg      Config
	js       jetstream.Publisher
	fb       *feedback.Publisher
	m        *metrics.Fleet
	audience Audience
	suppress Suppressor
	now      func() time.Time
}

// New returns a Dispatcher. audience and suppress may be nil: then alias and
// tag intents are dead-lettered and nothing is suppressed.
func New(cfg Config, js jetstream.Publisher, m *metrics.Fleet, audience Audience, suppress Suppressor) (*Dispatcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	return &Dispatcher{cfg: cfg, js: js, fb: feedback.NewPublisher(js), m: m,
		audience: audience, suppress: suppress, now: time.Now}, nil
}

// Handle dispatches one intent.
func (d *Dispatcher) Handle(ctx context.Context, msg jetstream.Msg) consumer.Verdict {
	in, err := events.DecodeIntent(msg.Data(), d.cfg.Limits)
	if err != nil {
		app := ""
		if in != nil && events.ValidApp(in.App) {
			app = in.App
		}
		cat := "invalid"
		if errors.Is(err, events.ErrMalformed) {
			cat = "malformed"
		}
		d.m.Intents.WithLabelValues(labelApp(app), cat).Inc()
		v := consumer.DeadLetter(app, cat, err.Error())
		if in != nil {
			v.IntentID = in.ID
		}
		return v
	}
	created := d.now()
	if meta, err := msg.Metadata(); err == nil {
		created = meta.Timestamp
	}
	// No deadline on the whole dispatch: resolving a million-device tag takes
	// as long as it takes (the runner keeps the intent ours meanwhile); each
	// wait for acknowledgements is bounded instead.
	if in.Expired(d.now()) {
		d.m.Intents.WithLabelValues(in.App, "expired").Inc()
		if err := d.reportEach(ctx, in, in.Targets.Tokens, events.Expired, "expired before dispatch"); err != nil {
			return consumer.RetryAfter(0, "publish", err.Error())
		}
		d.cfg.Logger.Info("intent expired before dispatch", "intent_id", in.ID, "app", in.App)
		return consumer.Done()
	}
	out := &batcher{d: d, in: in, created: created, batches: map[events.Platform][]string{}}
	if len(in.Targets.Tokens) > 0 {
		err = out.add(ctx, in.Targets.Tokens, true)
	} else if d.audience == nil {
		v := consumer.DeadLetter(in.App, "invalid", ErrNoRegistry.Error())
		v.IntentID = in.ID
		return v
	} else {
		err = d.audience.Resolve(ctx, in.App, in.Targets, d.cfg.BatchFCM, func(ts []events.Target) error {
			// The registry yields each device once: no dedupe set, so a
			// million-device tag never sits in memory.
			return out.add(ctx, ts, false)
		})
	}
	if err == nil {
		err = out.flushAll(ctx)
	}
	if err == nil {
		err = out.waitAcks(ctx)
	}
	if err != nil {
		// Jobs already stored are deduplicated by id when this comes back.
		d.cfg.Logger.Warn("dispatch failed, will retry", "intent_id", in.ID, "app", in.App, "err", err)
		return consumer.RetryAfter(0, "publish", err.Error())
	}
	result := "dispatched"
	if out.jobs == 0 {
		result = "empty"
	}
	d.m.Intents.WithLabelValues(in.App, result).Inc()
	// Checked first: building the line costs more than the rest of a small intent.
	if d.cfg.Logger.Enabled(ctx, slog.LevelDebug) {
		d.cfg.Logger.Debug("intent dispatched", "intent_id", in.ID, "app", in.App, "jobs", out.jobs, "tokens", out.tokens,
			"suppressed", out.dropped)
	}
	return consumer.Done()
}

// batcher accumulates tokens per platform and publishes full batches as jobs.
type batcher struct {
	d          *Dispatcher
	in         *events.Intent
	created    time.Time
	batches    map[events.Platform][]string
	index      map[events.Platform]int
	seen       map[events.Target]struct{}
	futures    []jetstream.PubAckFuture
	suppressed []events.Feedback // not yet published
	jobs       int
	tokens     int
	dropped    int // tokens suppressed
}

// add batches targets; dedupe drops repeats of explicit tokens.
func (b *batcher) add(ctx context.Context, ts []events.Target, dedupe bool) error {
	if b.index == nil {
		b.index = map[events.Platform]int{}
	}
	if dedupe && b.seen == nil {
		b.seen = make(map[events.Target]struct{}, len(ts))
	}
	for _, t := range ts {
		if dedupe {
			if _, dup := b.seen[t]; dup {
				continue
			}
			b.seen[t] = struct{}{}
		}
		if b.d.suppress != nil && b.d.suppress.Suppressed(b.in.App, t.Platform, t.Token) {
			b.d.m.Suppressed.WithLabelValues(string(t.Platform), b.in.App).Inc()
			b.d.m.Notifications.WithLabelValues(string(t.Platform), b.in.App, string(events.Suppressed)).Inc()
			b.suppressed = append(b.suppressed, b.d.event(b.in, t, events.Suppressed, "registry marks the token invalid"))
			b.dropped++
			continue
		}
		b.batches[t.Platform] = append(b.batches[t.Platform], t.Token)
		if len(b.batches[t.Platform]) >= b.d.cfg.batch(t.Platform) {
			if err := b.flush(ctx, t.Platform); err != nil {
				return err
			}
		}
	}
	if len(b.suppressed) >= 1000 {
		return b.flushSuppressed(ctx)
	}
	return nil
}

func (b *batcher) flushAll(ctx context.Context) error {
	for _, p := range events.Platforms {
		if len(b.batches[p]) > 0 {
			if err := b.flush(ctx, p); err != nil {
				return err
			}
		}
	}
	return b.flushSuppressed(ctx)
}

func (b *batcher) flushSuppressed(ctx context.Context) error {
	err := b.d.publishFeedback(ctx, b.suppressed)
	b.suppressed = b.suppressed[:0]
	return err
}

// maxUnacked is how many published jobs of one intent may wait for their
// acknowledgements: past it the dispatcher waits, so that a huge tag holds
// a bounded number of jobs in memory and paces itself to the server.
const maxUnacked = 256

// waitAcks waits, at most PublishTimeout, for the jobs published so far.
func (b *batcher) waitAcks(ctx context.Context) error {
	if len(b.futures) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, b.d.cfg.PublishTimeout)
	defer cancel()
	err := feedback.WaitAll(ctx, b.futures)
	b.futures = b.futures[:0]
	return err
}

func (b *batcher) flush(ctx context.Context, p events.Platform) error {
	tokens := b.batches[p]
	b.batches[p] = nil
	i := b.index[p]
	b.index[p] = i + 1
	job := events.Job{
		ID: events.JobID(b.in.ID, p, i, tokens), IntentID: b.in.ID, App: b.in.App, Platform: p,
		Tokens: tokens, Notification: b.in.Notification, Overrides: platformOverrides(b.in.Overrides, p),
		CreatedAt: b.created,
	}
	data, err := json.Marshal(&job)
	if err != nil {
		return fmt.Errorf("encode job: %w", err)
	}
	opts := []jetstream.PublishOpt{jetstream.WithMsgID(job.ID)}
	if exp := job.Notification.Expiry; exp != nil {
		// The stream drops the job once it is no longer worth sending.
		opts = append(opts, jetstream.WithMsgTTL(max(time.Until(*exp).Truncate(time.Second)+time.Second, time.Second)))
	}
	msg := &nats.Msg{Subject: events.SendSubject(p, b.in.App), Data: data}
	f, err := b.d.js.PublishMsgAsync(msg, opts...)
	if err != nil {
		return fmt.Errorf("publish job: %w", err)
	}
	b.futures = append(b.futures, f)
	b.jobs++
	b.tokens += len(tokens)
	b.d.m.Jobs.WithLabelValues(string(p)).Inc()
	if len(b.futures) >= maxUnacked {
		return b.waitAcks(ctx)
	}
	return nil
}

// platformOverrides keeps only the overrides the job's platform reads.
func platformOverrides(o *events.Overrides, p events.Platform) *events.Overrides {
	if o == nil {
		return nil
	}
	var out events.Overrides
	switch p {
	case events.APNs:
		out.APNs = o.APNs
	case events.FCM:
		out.FCM = o.FCM
	case events.Mi:
		out.Mi = o.Mi
	}
	if out == (events.Overrides{}) {
		return nil
	}
	return &out
}

func (d *Dispatcher) event(in *events.Intent, t events.Target, o events.Outcome, reason string) events.Feedback {
	return events.Feedback{App: in.App, Platform: t.Platform, Token: t.Token, Outcome: o,
		Reason: reason, IntentID: in.ID, At: d.now().UTC()}
}

func (d *Dispatcher) reportEach(ctx context.Context, in *events.Intent, ts []events.Target, o events.Outcome, reason string) error {
	fbs := make([]events.Feedback, 0, len(ts))
	for _, t := range ts {
		fbs = append(fbs, d.event(in, t, o, reason))
		d.m.Notifications.WithLabelValues(string(t.Platform), in.App, string(o)).Inc()
	}
	return d.publishFeedback(ctx, fbs)
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

func labelApp(app string) string {
	if app == "" {
		return "_"
	}
	return app
}
