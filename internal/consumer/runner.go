package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/tracing"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// Handler handles one message and returns its verdict. ctx ends only when
// shutdown outlasts the drain timeout; a handler then returns promptly,
// usually with a Retry verdict.
type Handler interface {
	Handle(ctx context.Context, msg jetstream.Msg) Verdict
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, msg jetstream.Msg) Verdict

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, msg jetstream.Msg) Verdict { return f(ctx, msg) }

// JetStream is what the runner needs: consumers to bind and a publisher for
// dead letters.
type JetStream interface {
	jetstream.StreamConsumerManager
	jetstream.Publisher
}

// Runner runs one durable consumer with a Handler.
type Runner struct {
	cfg Config
	// inFlight and handlerSeconds are the stage's metric children, resolved
	// once: they are touched for every message.
	inFlight       prometheus.Gauge
	handlerSeconds prometheus.Observer
	js             JetStream
	h              Handler
	m              *metrics.Fleet
	ready          atomic.Bool
	undelivered    undelivered
}

// New validates cfg and returns a Runner.
func New(js JetStream, cfg Config, h Handler, m *metrics.Fleet) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	return &Runner{cfg: cfg, js: js, h: h, m: m,
		inFlight:       m.InFlight.WithLabelValues(cfg.Stage),
		handlerSeconds: m.HandlerSeconds.WithLabelValues(cfg.Stage)}, nil
}

// Ready reports whether the consumer is bound and fetching.
func (r *Runner) Ready() bool { return r.ready.Load() }

// ConsumerConfig is the durable consumer the runner binds to.
func (r *Runner) ConsumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:        r.cfg.Durable,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        r.cfg.AckWait,
		MaxAckPending:  r.cfg.MaxAckPending,
		FilterSubjects: r.cfg.FilterSubjects,
		// Unlimited: the server never parks a message by itself. The runner
		// dead-letters a message delivered more than MaxAttempts times
		// without calling its handler, so even a message whose handler
		// crashes the process every time ends in PUSH_DEAD.
		MaxDeliver: -1,
	}
}

// Run binds the consumer and handles messages until ctx ends, then stops
// fetching, naks what was fetched but not started, waits for in-flight
// handlers (up to DrainTimeout) and returns.
func (r *Runner) Run(ctx context.Context) error {
	cons, err := r.bind(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped before the streams were there
		}
		return err
	}
	// Handlers keep running through the drain; hctx ends only at its timeout.
	hctx, cancelHandlers := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHandlers()
	var stopping atomic.Bool
	var wg sync.WaitGroup
	log := r.cfg.Logger.With("stream", r.cfg.Stream, "consumer", r.cfg.Durable)
	f, err := newFeed(cons, r.conn(), log, &wg, func(msg jetstream.Msg) { r.take(hctx, msg, &stopping) },
		jetstream.PullMaxMessages(r.cfg.MaxInFlight), jetstream.PullExpiry(pullExpiry))
	if err != nil {
		return fmt.Errorf("consume %s/%s: %w", r.cfg.Stream, r.cfg.Durable, err)
	}
	log.Info("consuming", "max_in_flight", r.cfg.MaxInFlight)
	r.ready.Store(true)

	for range r.cfg.MaxInFlight {
		wg.Go(func() { r.work(hctx, f, &stopping) })
	}
	lagDone := make(chan struct{})
	go func() { defer close(lagDone); r.watchLag(ctx, cons) }()
	reconnects := make(chan struct{})
	go f.watchReconnects(reconnects)
	defer close(reconnects)

	<-ctx.Done()
	r.ready.Store(false)
	stopping.Store(true)
	f.drain()
	idle := make(chan struct{})
	go func() { wg.Wait(); close(idle) }()
	select {
	case <-idle:
	case <-time.After(r.cfg.DrainTimeout):
		log.Warn("drain timeout: cancelling in-flight handlers", "timeout", r.cfg.DrainTimeout)
		cancelHandlers()
		f.stop()
		<-idle
	}
	<-lagDone
	log.Info("consumer stopped")
	return nil
}

// bind creates or updates the durable consumer, retrying with backoff until
// it succeeds or ctx ends: a service started before an admin provisioned
// the streams (--provision=false), or while NATS is away, becomes ready by
// itself once they are there instead of staying unready until a restart.
func (r *Runner) bind(ctx context.Context) (jetstream.Consumer, error) {
	for attempt := 1; ; attempt++ {
		cons, err := r.js.CreateOrUpdateConsumer(ctx, r.cfg.Stream, r.ConsumerConfig())
		if err == nil {
			return cons, nil
		}
		delay := Backoff(attempt, bindRetryBase, bindRetryMax)
		r.cfg.Logger.Warn("cannot bind the consumer yet; retrying (are the streams provisioned?)",
			"stream", r.cfg.Stream, "consumer", r.cfg.Durable, "err", err, "retry_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("bind consumer %s/%s: %w", r.cfg.Stream, r.cfg.Durable, err)
		case <-t.C:
		}
	}
}

// Bounds of bind's retries.
const (
	bindRetryBase = 500 * time.Millisecond
	bindRetryMax  = 15 * time.Second
)

// pullExpiry bounds each pull request; its idle heartbeat is half of it.
// The jetstream iterator issues its next pull request only from inside
// Next, and skips it while its previous pull is still being published; when
// that goroutine is descheduled until everything requested is delivered and
// handled (two busy cores suffice), no pull request is left on the server
// (consumer info: pending N, waiting 0, ack pending 0) and every worker waits
// in Next. Only the iterator's missed-heartbeat check (2 heartbeats) then
// re-pulls (the runner renews the iterator, see feed): after 30s with the
// client's default expiry, after 2s with this one. The same check notices
// pull requests lost with a failed server or consumer leader. Cost:
// one pull request and two heartbeats per idle consumer every 2s. (A Next
// timeout shorter than 2 heartbeats would defeat that check: the iterator
// arms it per Next call.)
const pullExpiry = 2 * time.Second

func (r *Runner) work(ctx context.Context, f *feed, stopping *atomic.Bool) {
	for {
		it, gen := f.current()
		msg, err := it.Next()
		if err != nil {
			switch {
			case errors.Is(err, jetstream.ErrMsgIteratorClosed):
				if f.isClosed() {
					return
				}
				// Replaced (a no-op then), or closed under us: pull anew.
				f.renew(gen, whyClosed)
			case errors.Is(err, jetstream.ErrNoHeartbeat):
				f.renew(gen, whyHeartbeats)
			default:
				r.cfg.Logger.Debug("fetch", "err", err)
			}
			continue
		}
		r.take(ctx, msg, stopping)
	}
}

// take handles a fetched message, or hands it straight back to the fleet
// when the runner is stopping.
func (r *Runner) take(ctx context.Context, msg jetstream.Msg, stopping *atomic.Bool) {
	if stopping.Load() {
		r.ackErr(msg, opNak, msg.Nak())
		return
	}
	r.handle(ctx, msg)
}

// EndSpan records a handler's verdict on its span and ends it
// (tracing.SetVerdict): the handlers' spans end the same way.
func EndSpan(span trace.Span, v Verdict) {
	if span.IsRecording() {
		verdict := tracing.VerdictAck
		switch v.Action {
		case Retry:
			verdict = tracing.VerdictRetry
		case Dead:
			verdict = tracing.VerdictDead
		}
		tracing.SetVerdict(span, verdict, v.Category)
	}
	span.End()
}

func (r *Runner) handle(ctx context.Context, msg jetstream.Msg) {
	// The message's trace context (W3C traceparent, tracestate), if any, is
	// the parent of the handler's spans and goes on its dead letter.
	ctx = tracing.Extract(ctx, msg.Headers())
	r.inFlight.Inc()
	start := time.Now()
	// Keep the message ours while a slow handler works (rate limits, big batches).
	keep := r.keepAlive(msg, r.cfg.AckWait/2)
	defer func() {
		keep()
		r.inFlight.Dec()
		r.handlerSeconds.Observe(time.Since(start).Seconds())
	}()
	attempts := 1
	if meta, err := msg.Metadata(); err == nil {
		attempts = int(meta.NumDelivered)
	}
	if attempts > r.cfg.MaxAttempts {
		// Earlier deliveries ended without a verdict (the handler crashed the
		// process or outlived AckWait) or with a dead letter that could not
		// be published: never call the handler again.
		r.settle(ctx, msg, r.exhausted(msg, attempts), attempts)
		return
	}
	v := r.safeHandle(ctx, msg)
	r.settle(ctx, msg, v, attempts)
}

// exhausted is the verdict for a message delivered more than MaxAttempts
// times: the dead verdict this process could not publish earlier, if any,
// else a dead letter saying that no verdict came.
func (r *Runner) exhausted(msg jetstream.Msg, attempts int) Verdict {
	if v, ok := r.undelivered.get(msg); ok {
		return v
	}
	return DeadLetter(appOf(msg.Subject()), "exhausted",
		fmt.Sprintf("exhausted %d deliveries without a verdict (crash or timeout?)", attempts))
}

// appOf is the app token that ends every pushfleet work subject
// (push.intents.<app>, push.send.<p>.<app>, push.feedback.<p>.<app>…), or ""
// when the last token is not an app name.
func appOf(subject string) string {
	app := subject[strings.LastIndexByte(subject, '.')+1:]
	if !events.ValidApp(app) {
		return ""
	}
	return app
}

// safeHandle turns a handler panic into a dead letter: bad input must never
// crash a service.
func (r *Runner) safeHandle(ctx context.Context, msg jetstream.Msg) (v Verdict) {
	defer func() {
		if p := recover(); p != nil {
			r.cfg.Logger.Error("handler panic", "subject", msg.Subject(), "panic", fmt.Sprint(p))
			v = DeadLetter("", "panic", fmt.Sprintf("handler panic: %v", p))
		}
	}()
	return r.h.Handle(ctx, msg)
}

// Operations for AckErrors.
const (
	opAck        = "ack"
	opNak        = "nak"
	opTerm       = "term"
	opInProgress = "in_progress"
)

// ackErr counts and logs an ack, nak, term or in-progress the server will
// not see. The message then comes back after AckWait: a lost ack means
// the work is done again, a lost nak or term only that it comes back later.
func (r *Runner) ackErr(msg jetstream.Msg, op string, err error) {
	if err == nil {
		return
	}
	r.m.AckErrors.WithLabelValues(r.cfg.Stage, op).Inc()
	level := slog.LevelWarn
	if op == opNak || op == opInProgress {
		level = slog.LevelDebug
	}
	r.cfg.Logger.Log(context.Background(), level, op+" failed; the message will be redelivered after the ack wait",
		"stage", r.cfg.Stage, "subject", msg.Subject(), "err", err)
}

func (r *Runner) settle(ctx context.Context, msg jetstream.Msg, v Verdict, attempts int) {
	stage := r.cfg.Stage
	r.undelivered.drop(msg)
	switch v.Action {
	case Ack:
		r.ackErr(msg, opAck, r.acknowledge(ctx, msg, opAck, 0, ""))
		return
	case Retry:
		if attempts < r.cfg.MaxAttempts {
			delay := max(v.Delay, Backoff(attempts, r.cfg.BackoffBase, r.cfg.BackoffMax))
			r.m.Retries.WithLabelValues(stage, category(v)).Inc()
			// Checked first: the line's attributes cost allocations per retry.
			if r.cfg.Logger.Enabled(ctx, slog.LevelDebug) {
				r.cfg.Logger.Debug("retry", "subject", msg.Subject(), "attempt", attempts, "delay", delay, "reason", v.Reason)
			}
			r.ackErr(msg, opNak, r.acknowledge(ctx, msg, opNak, delay, ""))
			return
		}
		v.Action = Dead
		v.Reason = fmt.Sprintf("gave up after %d attempts: %s", attempts, v.Reason)
	}
	if err := r.publishDead(ctx, msg, v, attempts); err != nil {
		// Never drop and never park: keep the message and try again later,
		// with the verdict remembered for the delivery that no longer calls
		// the handler. An operator's alarm: PUSH_DEAD is not taking writes.
		r.undelivered.put(msg, v)
		r.m.DeadLetterFailures.WithLabelValues(stage).Inc()
		delay := Backoff(attempts, r.cfg.BackoffBase, r.cfg.BackoffMax)
		r.cfg.Logger.Error("dead letter publish failed; the message is kept and retried", "stage", stage,
			"subject", msg.Subject(), "attempts", attempts, "retry_in", delay, "reason", v.Reason, "err", err)
		r.ackErr(msg, opNak, r.acknowledge(ctx, msg, opNak, delay, ""))
		return
	}
	r.m.DeadLetters.WithLabelValues(stage, category(v)).Inc()
	r.cfg.Logger.Warn("dead letter", "stage", stage, "app", v.App, "subject", msg.Subject(),
		"attempts", attempts, "category", category(v), "reason", v.Reason)
	r.ackErr(msg, opTerm, r.acknowledge(ctx, msg, opTerm, 0, headerValue(v.Reason)))
}

// deadLetterHeadroom is left below the server's max_payload for the dead
// letter's NATS headers (reason, stage, message id).
const deadLetterHeadroom = 4 << 10

// deadLetterLimit is the most bytes a dead letter may take: MaxDeadLetterBytes,
// lowered to what the server accepts when the connection is known.
func (r *Runner) deadLetterLimit() int {
	limit := r.cfg.MaxDeadLetterBytes
	if c, ok := r.js.(interface{ Conn() *nats.Conn }); ok {
		if nc := c.Conn(); nc != nil {
			if mp := nc.MaxPayload(); mp > 0 {
				limit = min(limit, int(mp)-deadLetterHeadroom)
			}
		}
	}
	return limit
}

func (r *Runner) publishDead(ctx context.Context, msg jetstream.Msg, v Verdict, attempts int) error {
	d := events.DeadLetter{
		Stage: r.cfg.Stage, App: v.App, Reason: v.Reason, Attempts: attempts, At: time.Now().UTC(),
		Subject: msg.Subject(), IntentID: v.IntentID, Tokens: v.Tokens,
	}
	if meta, err := msg.Metadata(); err == nil {
		d.Stream, d.Seq = meta.Stream, meta.Sequence.Stream
	}
	if h := msg.Headers(); len(h) > 0 {
		d.Headers = map[string][]string(h)
	}
	d.SetPayload(msg.Data())
	body, err := d.Encode(r.deadLetterLimit())
	if err != nil {
		return err
	}
	// A handler's app names the subject only when it is an app name: any
	// other string could make the subject unpublishable, and the dead letter
	// with it.
	app := v.App
	if !events.ValidApp(app) {
		app = ""
	}
	out := nats.NewMsg(events.DeadSubject(r.cfg.Stage, app))
	out.Data = body
	out.Header.Set(events.HeaderReason, headerValue(v.Reason))
	out.Header.Set(events.HeaderStage, r.cfg.Stage)
	tracing.Inject(ctx, out)
	var opts []jetstream.PublishOpt
	if d.Stream != "" {
		// One dead letter per message: a repeated publish (after a crash
		// between publish and term, or a lost publish ack) is a no-op.
		opts = append(opts, jetstream.WithMsgID(fmt.Sprintf("dead.%s.%d", d.Stream, d.Seq)))
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = r.js.PublishMsg(pctx, out, opts...)
	return err
}

// headerValue makes s usable as a header value (and a term reason): one
// line, at most 200 bytes.
func headerValue(s string) string {
	s = strings.Map(func(c rune) rune {
		if c < ' ' || c == 0x7f {
			return ' '
		}
		return c
	}, s)
	if len(s) <= 200 {
		return s
	}
	n := 200
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// watchLag reads the consumer's lag from JetStream for the metrics.
func (r *Runner) watchLag(ctx context.Context, cons jetstream.Consumer) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	g := r.m.ConsumerPending.WithLabelValues(r.cfg.Stream, r.cfg.Durable)
	for {
		ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if info, err := cons.Info(ictx); err == nil {
			g.Set(float64(info.NumPending + uint64(info.NumAckPending)))
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func category(v Verdict) string {
	if v.Category != "" {
		return v.Category
	}
	return "other"
}

// keepAlive tells the server every interval that msg is still being worked
// on, so a slow handler does not get its message redelivered elsewhere. The
// returned func stops it.
func (r *Runner) keepAlive(msg jetstream.Msg, interval time.Duration) (stop func()) {
	var mu sync.Mutex
	stopped := false
	var t *time.Timer
	mu.Lock() // the callback must not run before t is set
	defer mu.Unlock()
	t = time.AfterFunc(interval, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		err := msg.InProgress()
		if errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
			return // settled meanwhile: nothing to keep
		}
		r.ackErr(msg, opInProgress, err)
		t.Reset(interval)
	})
	return func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		t.Stop()
	}
}

// maxUndelivered bounds the dead verdicts a runner remembers.
const maxUndelivered = 4096

// undelivered remembers the dead verdicts whose dead letter could not be
// published, by message, so that the delivery beyond MaxAttempts (which does
// not call the handler) still carries the handler's reason.
type undelivered struct {
	mu sync.Mutex
	m  map[string]Verdict
	// n is len(m), read without the lock on every settle.
	n atomic.Int64
}

func undeliveredKey(msg jetstream.Msg) (string, bool) {
	meta, err := msg.Metadata()
	if err != nil {
		return "", false
	}
	return fmt.Sprintf("%s/%d", meta.Stream, meta.Sequence.Stream), true
}

func (u *undelivered) put(msg jetstream.Msg, v Verdict) {
	k, ok := undeliveredKey(msg)
	if !ok {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = map[string]Verdict{}
	}
	if _, known := u.m[k]; known || len(u.m) < maxUndelivered {
		u.m[k] = v
		u.n.Store(int64(len(u.m)))
	}
}

func (u *undelivered) get(msg jetstream.Msg) (Verdict, bool) {
	if u.n.Load() == 0 {
		return Verdict{}, false
	}
	k, ok := undeliveredKey(msg)
	if !ok {
		return Verdict{}, false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	v, ok := u.m[k]
	return v, ok
}

func (u *undelivered) drop(msg jetstream.Msg) {
	if u.n.Load() == 0 {
		return
	}
	if k, ok := undeliveredKey(msg); ok {
		u.mu.Lock()
		delete(u.m, k)
		u.n.Store(int64(len(u.m)))
		u.mu.Unlock()
	}
}
