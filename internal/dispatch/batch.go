package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/feedback"
	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/internal/tracing"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// dispatch resolves the intent's targets and publishes its jobs, or, when
// it has expired, reports every target expired: an alias or tag is resolved
// for that too, so that each of its devices gets its own outcome.
// meta and metaErr are the message's msg.Metadata().
func (d *Dispatcher) dispatch(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, metaErr error, in *events.Intent) consumer.Verdict {
	out := d.newBatcher(msg, meta, metaErr, in)
	// No deadline on the whole dispatch: resolving a million-device tag takes
	// as long as it takes (the runner keeps the intent ours meanwhile); each
	// wait for acknowledgements is bounded instead.
	var err error
	if len(in.Targets.Topics) > 0 {
		err = out.addTopics(ctx, in.Targets.Topics)
	} else if len(in.Targets.Tokens) > 0 {
		err = out.add(ctx, in.Targets.Tokens, true)
	} else if d.audience == nil {
		return *d.reject(in.App, in.ID, "invalid", ErrNoRegistry.Error())
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
	// Every token is added: a coalesced job need not wait for this intent.
	releaseHold(ctx)
	if err == nil {
		err = out.waitAcks(ctx)
	}
	if errors.Is(err, tokens.ErrInvalidDevice) {
		// The registry refuses the query itself (an alias or tag it cannot
		// hold): no retry can change that, so it is dead-lettered now with
		// the reason instead of being retried until its attempts run out.
		return d.refused(ctx, in, out, err)
	}
	if err != nil {
		// Jobs already stored are deduplicated by id when this comes back.
		d.cfg.Logger.Warn("dispatch failed, will retry", "intent_id", in.ID, "app", in.App, "err", err)
		return consumer.RetryAfter(0, "publish", err.Error())
	}
	d.done(ctx, in, out)
	return consumer.Done()
}

// refused dead-letters an intent whose audience the registry refused. The
// registry checks the query before it reads any device, so nothing was
// batched; whatever was is still settled first, so that no token is left
// without its outcome.
func (d *Dispatcher) refused(ctx context.Context, in *events.Intent, out *batcher, cause error) consumer.Verdict {
	err := out.flushAll(ctx)
	if err == nil {
		err = out.waitAcks(ctx)
	}
	if err != nil {
		d.cfg.Logger.Warn("dispatch failed, will retry", "intent_id", in.ID, "app", in.App, "err", err)
		return consumer.RetryAfter(0, "publish", err.Error())
	}
	return *d.reject(in.App, in.ID, "invalid", fmt.Sprintf("targets refused by the token registry: %v", cause))
}

// done counts and logs a dispatched intent.
func (d *Dispatcher) done(ctx context.Context, in *events.Intent, out *batcher) {
	result := "dispatched"
	switch {
	case out.expired:
		result = "expired"
		d.cfg.Logger.Info("intent expired before dispatch", "intent_id", in.ID, "app", in.App, "tokens", out.reported)
	case out.jobs == 0:
		result = "empty"
	}
	d.m.Intents.WithLabelValues(out.app(), result).Inc()
	// Checked first: building the line costs more than the rest of a small intent.
	if d.cfg.Logger.Enabled(ctx, slog.LevelDebug) {
		d.cfg.Logger.Debug("intent dispatched", "intent_id", in.ID, "app", in.App, "jobs", out.jobs, "tokens", out.tokens,
			"reported", out.reported)
	}
}

// batcher accumulates tokens per platform and publishes full batches as
// jobs; tokens that will not be sent get their outcome event instead.
type batcher struct {
	d       *Dispatcher
	in      *events.Intent
	msg     jetstream.Msg
	meta    *jetstream.MsgMetadata // msg.Metadata(); nil when it had none
	created time.Time
	// appLabel is the intent's app metric label (metrics.Fleet.App),
	// resolved on first use: once per intent, not once per token.
	appLabel string
	// expired: every target is reported expired, nothing is sent.
	expired bool
	// blocked holds why a platform's provider would refuse the notification
	// (events.Intent.ValidateFor), for audiences resolved from an alias or
	// tag: explicit tokens were checked at intake.
	blocked  map[events.Platform]string
	batches  map[events.Platform][]string
	topics   map[events.Platform][]events.Topic // a topic intent's targets, per platform
	index    map[events.Platform]int
	seen     map[events.Target]struct{}
	futures  []jetstream.PubAckFuture
	joined   []*coalesced      // coalesced jobs holding some of the tokens
	pending  []events.Feedback // outcome events not yet published
	jobs     int
	tokens   int
	reported int // tokens with an outcome from the dispatcher
}

func (d *Dispatcher) newBatcher(msg jetstream.Msg, meta *jetstream.MsgMetadata, metaErr error, in *events.Intent) *batcher {
	now := d.now()
	b := &batcher{d: d, in: in, msg: msg, created: now, expired: in.Expired(now),
		batches: map[events.Platform][]string{}, index: map[events.Platform]int{}}
	if metaErr == nil {
		b.meta, b.created = meta, meta.Timestamp
	}
	if len(in.Targets.Tokens) == 0 && len(in.Targets.Topics) == 0 {
		// Only audiences need it: a nil map reads as "nothing blocked".
		for _, p := range events.Platforms {
			if err := in.ValidateFor(p); err != nil {
				if b.blocked == nil {
					b.blocked = map[events.Platform]string{}
				}
				b.blocked[p] = err.Error()
			}
		}
	}
	return b
}

// app is the intent's app metric label, looked up once per intent.
func (b *batcher) app() string {
	if b.appLabel == "" {
		b.appLabel = b.d.m.App(b.in.App)
	}
	return b.appLabel
}

// add batches targets; dedupe drops repeats of explicit tokens.
func (b *batcher) add(ctx context.Context, ts []events.Target, dedupe bool) error {
	if dedupe && b.seen == nil {
		b.seen = make(map[events.Target]struct{}, len(ts))
	}
	for _, t := range ts {
		if !b.in.Targets.Includes(t.Platform) {
			continue // the registry filters by platform; an Audience that did not is filtered here
		}
		if dedupe {
			if _, dup := b.seen[t]; dup {
				continue
			}
			b.seen[t] = struct{}{}
		}
		switch {
		case b.d.suppress != nil && b.d.suppress.Suppressed(b.in.App, t.Platform, t.Token):
			b.d.m.Suppressed.WithLabelValues(string(t.Platform), b.app()).Inc()
			b.report(t, events.Suppressed, "registry marks the token invalid")
		case b.expired:
			b.report(t, events.Expired, "expired before dispatch")
		default:
			if err := b.batch(ctx, t); err != nil {
				return err
			}
		}
	}
	if len(b.pending) >= 1000 {
		return b.flushPending(ctx)
	}
	return nil
}

// addTopics batches a topic intent's targets: one job per platform
// carrying its topics, each token being a topic's key (events.Topic.Key),
// the name its outcome is reported under. Topic keys are never device
// tokens: no suppression applies, and no registry is asked.
func (b *batcher) addTopics(ctx context.Context, ts []events.Topic) error {
	b.topics = map[events.Platform][]events.Topic{}
	for _, tp := range ts {
		b.topics[tp.Platform] = append(b.topics[tp.Platform], tp)
	}
	for _, tp := range ts {
		t := events.Target{Platform: tp.Platform, Token: tp.Key()}
		if b.expired {
			b.report(t, events.Expired, "expired before dispatch")
			continue
		}
		if err := b.batch(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// report queues the outcome event of a token the dispatcher settles itself.
func (b *batcher) report(t events.Target, o events.Outcome, reason string) {
	b.d.m.Notifications.WithLabelValues(string(t.Platform), b.app(), string(o)).Inc()
	b.pending = append(b.pending, b.d.event(b.in, t, o, reason))
	b.reported++
}

func (b *batcher) batch(ctx context.Context, t events.Target) error {
	b.batches[t.Platform] = append(b.batches[t.Platform], t.Token)
	if len(b.batches[t.Platform]) >= b.d.cfg.batch(t.Platform) {
		return b.flush(ctx, t.Platform)
	}
	return nil
}

// flushAll publishes what is left of every platform's batch: into a
// coalesced job when it may be, as a job of its own otherwise.
func (b *batcher) flushAll(ctx context.Context) error {
	if p, ok := b.coalescable(); ok {
		b.coalesce(ctx, p)
		return b.flushPending(ctx)
	}
	for _, p := range events.Platforms {
		if len(b.batches[p]) > 0 {
			if err := b.flush(ctx, p); err != nil {
				return err
			}
		}
	}
	return b.flushPending(ctx)
}

// coalescable returns the platform of an intent whose whole dispatch is
// one partial batch, which may share a job with other intents' tokens:
// the one-token traffic coalescing is for. An intent with several jobs is
// published as before, each job with its own deterministic id: were its
// jobs coalesced, a dispatcher that died with some of them stored would,
// on the redelivery, store those tokens again in other jobs. Topic jobs,
// and jobs the provider would refuse, are built apart too.
func (b *batcher) coalescable() (events.Platform, bool) {
	if b.d.coal == nil || b.topics != nil || b.jobs > 0 {
		return "", false
	}
	var only events.Platform
	for _, p := range events.Platforms {
		if len(b.batches[p]) == 0 {
			continue
		}
		if only != "" {
			return "", false
		}
		only = p
	}
	if _, blocked := b.blocked[only]; only == "" || blocked {
		return "", false
	}
	return only, true
}

// coalesce hands platform p's last batch to the coalescer.
func (b *batcher) coalesce(ctx context.Context, p events.Platform) {
	tokens := b.batches[p]
	b.batches[p] = nil
	i := b.index[p]
	b.index[p] = i + 1
	header := tracing.Header(ctx)
	part := events.Part{IntentID: b.in.ID, Notification: b.in.Notification, Overrides: platformOverrides(b.in.Overrides, p),
		CreatedAt: b.created, Trace: header.Get(tracing.HeaderTraceparent)}
	b.joined = append(b.joined, b.d.coal.add(b.in.App, p, part, i, tokens, len(b.msg.Data()), header))
	b.jobs++
	b.tokens += len(tokens)
}

func (b *batcher) flushPending(ctx context.Context) error {
	err := b.d.publishFeedback(ctx, b.pending)
	b.pending = b.pending[:0]
	return err
}

// maxUnacked is how many published jobs of one intent may wait for their
// acknowledgements: past it the dispatcher waits, so that a huge tag holds
// a bounded number of jobs in memory and paces itself to the server.
const maxUnacked = 256

// waitAcks waits, at most PublishTimeout, for the jobs published so far,
// coalesced ones included.
func (b *batcher) waitAcks(ctx context.Context) error {
	if len(b.futures) == 0 && len(b.joined) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, b.d.cfg.PublishTimeout)
	defer cancel()
	err := feedback.WaitAll(ctx, b.futures)
	b.futures = b.futures[:0]
	for _, j := range b.joined {
		if jerr := j.wait(ctx); err == nil {
			err = jerr
		}
	}
	b.joined = b.joined[:0]
	return err
}

// flush publishes platform p's batch as a job. The job carries no TTL: its
// expiry is checked by the sender before each provider request, which
// reports it expired; a stream that dropped it would report nothing.
func (b *batcher) flush(ctx context.Context, p events.Platform) error {
	tokens := b.batches[p]
	b.batches[p] = nil
	i := b.index[p]
	b.index[p] = i + 1
	job := events.Job{
		ID: events.JobID(b.in.ID, p, i, tokens), IntentID: b.in.ID, App: b.in.App, Platform: p,
		Tokens: tokens, Topics: b.topics[p], Notification: b.in.Notification, Overrides: platformOverrides(b.in.Overrides, p),
		CreatedAt: b.created,
	}
	data, err := json.Marshal(&job)
	if err != nil {
		return fmt.Errorf("encode job: %w", err)
	}
	if reason, ok := b.blocked[p]; ok {
		return b.deadJob(ctx, &job, data, reason)
	}
	msg := &nats.Msg{Subject: events.SendSubject(p, b.in.App), Data: data, Header: tracing.Header(ctx)}
	// Job ids derive from intent ids, which are unique only within an app,
	// while a stream deduplicates across all its subjects.
	f, err := b.d.js.PublishMsgAsync(msg, jetstream.WithMsgID(events.JobMsgID(b.in.App, job.ID)))
	if err != nil {
		return fmt.Errorf("publish job: %w", err)
	}
	b.jobs++
	b.tokens += len(tokens)
	b.d.m.Jobs.WithLabelValues(string(p)).Inc()
	return b.await(ctx, f)
}

func (b *batcher) await(ctx context.Context, f jetstream.PubAckFuture) error {
	b.futures = append(b.futures, f)
	if len(b.futures) >= maxUnacked {
		return b.waitAcks(ctx)
	}
	return nil
}

// deadJob gives up on a job its provider would certainly refuse (an alias
// or tag resolved to MiPush devices for a title-only notification, say): a
// dead letter holding the job, as the sender would have written after the
// refusal, and a dead outcome per token, without asking the provider.
func (b *batcher) deadJob(ctx context.Context, job *events.Job, data []byte, reason string) error {
	dl := events.DeadLetter{Stage: events.StageIntents, App: job.App, Reason: reason, Attempts: 1,
		At: b.d.now().UTC(), Subject: events.SendSubject(job.Platform, job.App), IntentID: job.IntentID, Tokens: job.Tokens}
	if b.meta != nil {
		dl.Stream, dl.Seq = b.meta.Stream, b.meta.Sequence.Stream
	}
	dl.SetPayload(data)
	body, err := dl.Encode(maxDeadLetterBytes(b.d.js))
	if err != nil {
		return fmt.Errorf("encode dead letter: %w", err)
	}
	msg := &nats.Msg{Subject: events.DeadSubject(events.StageIntents, job.App), Data: body}
	msg.Header = nats.Header{events.HeaderReason: {headerValue(reason)}, events.HeaderStage: {events.StageIntents}}
	f, err := b.d.js.PublishMsgAsync(msg, jetstream.WithMsgID("dead."+events.IntentMsgID(job.App, job.ID)))
	if err != nil {
		return fmt.Errorf("publish dead letter: %w", err)
	}
	b.d.m.DeadLetters.WithLabelValues(events.StageIntents, "platform").Inc()
	for _, tok := range job.Tokens {
		b.report(events.Target{Platform: job.Platform, Token: tok}, events.Dead, reason)
	}
	return b.await(ctx, f)
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

// deadLetterHeadroom is left below the server's max_payload for a dead
// letter's NATS headers (reason, stage, message id), as the runner does.
const deadLetterHeadroom = 4 << 10

// maxDeadLetterBytes is the most bytes a dead letter may take:
// events.DefaultMaxDeadLetterBytes, lowered to what the server accepts when
// js exposes its connection (a jetstream.JetStream does).
func maxDeadLetterBytes(js jetstream.Publisher) int {
	limit := events.DefaultMaxDeadLetterBytes
	if c, ok := js.(interface{ Conn() *nats.Conn }); ok {
		if nc := c.Conn(); nc != nil {
			if mp := int(nc.MaxPayload()); mp > deadLetterHeadroom {
				limit = min(limit, mp-deadLetterHeadroom)
			}
		}
	}
	return limit
}

// headerValue makes s usable as a header value: one line (a CR or LF in a
// header makes the whole message unpublishable), at most 200 bytes, cut at
// a rune boundary. The dead letter's body keeps the whole reason.
func headerValue(s string) string {
	s = strings.Map(func(c rune) rune {
		if c < ' ' || c == 0x7f {
			return ' '
		}
		return c
	}, s)
	if len(s) <= maxHeaderValue {
		return s
	}
	n := maxHeaderValue
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// maxHeaderValue bounds a Push-Reason header.
const maxHeaderValue = 200
