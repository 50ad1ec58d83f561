package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pushfleet/pushfleet/internal/metrics"
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
	lagStop        chan struct{}
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
		// The runner dead-letters at MaxAttempts itself; the server-side
		// limit is a net for messages whose handler never answered.
		MaxDeliver: r.cfg.MaxAttempts + 1,
	}
}

// Run binds the consumer and handles messages until ctx ends, then stops
// fetching, naks what was fetched but not started, waits for in-flight
// handlers (up to DrainTimeout) and returns.
func (r *Runner) Run(ctx context.Context) error {
	cons, err := r.js.CreateOrUpdateConsumer(ctx, r.cfg.Stream, r.ConsumerConfig())
	if err != nil {
		return fmt.Errorf("bind consumer %s/%s: %w", r.cfg.Stream, r.cfg.Durable, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(r.cfg.MaxInFlight), jetstream.PullExpiry(pullExpiry))
	if err != nil {
		return fmt.Errorf("consume %s/%s: %w", r.cfg.Stream, r.cfg.Durable, err)
	}
	log := r.cfg.Logger.With("stream", r.cfg.Stream, "consumer", r.cfg.Durable)
	log.Info("consuming", "max_in_flight", r.cfg.MaxInFlight)
	r.ready.Store(true)

	// Handlers keep running through the drain; hctx ends only at its timeout.
	hctx, cancelHandlers := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHandlers()
	var stopping atomic.Bool
	var wg sync.WaitGroup
	for range r.cfg.MaxInFlight {
		wg.Go(func() { r.work(hctx, it, &stopping) })
	}
	lagDone := make(chan struct{})
	go func() { defer close(lagDone); r.watchLag(ctx, cons) }()

	<-ctx.Done()
	r.ready.Store(false)
	stopping.Store(true)
	it.Drain()
	idle := make(chan struct{})
	go func() { wg.Wait(); close(idle) }()
	select {
	case <-idle:
	case <-time.After(r.cfg.DrainTimeout):
		log.Warn("drain timeout: cancelling in-flight handlers", "timeout", r.cfg.DrainTimeout)
		cancelHandlers()
		it.Stop()
		<-idle
	}
	<-lagDone
	log.Info("consumer stopped")
	return nil
}

// pullExpiry bounds each pull request; its idle heartbeat is half of it.
// The jetstream iterator issues its next pull request only from inside
// Next, and skips it while its previous pull is still being published; when
// that goroutine is descheduled until everything requested is delivered and
// handled (two busy cores suffice), no pull request is left on the server
// (consumer info: pending N, waiting 0, ack pending 0) and every worker waits
// in Next. Only the iterator's missed-heartbeat check (2 heartbeats) then
// re-pulls: after 30s with the client's default expiry, after 2s with this
// one. The same check notices pull requests lost with a failed server. Cost:
// one pull request and two heartbeats per idle consumer every 2s. (A Next
// timeout shorter than 2 heartbeats would defeat that check: the iterator
// arms it per Next call.)
const pullExpiry = 2 * time.Second

func (r *Runner) work(ctx context.Context, it jetstream.MessagesContext, stopping *atomic.Bool) {
	for {
		msg, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			// Missed heartbeats and the like: the iterator recovers by itself.
			r.cfg.Logger.Debug("fetch", "err", err)
			continue
		}
		if stopping.Load() {
			// Fetched but not started: hand it straight back to the fleet.
			_ = msg.Nak()
			continue
		}
		r.handle(ctx, msg)
	}
}

func (r *Runner) handle(ctx context.Context, msg jetstream.Msg) {
	r.inFlight.Inc()
	start := time.Now()
	// Keep the message ours while a slow handler works (rate limits, big batches).
	keep := keepAlive(msg, r.cfg.AckWait/2)
	defer func() {
		keep()
		r.inFlight.Dec()
		r.handlerSeconds.Observe(time.Since(start).Seconds())
	}()
	v := r.safeHandle(ctx, msg)
	r.settle(ctx, msg, v)
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

func (r *Runner) settle(ctx context.Context, msg jetstream.Msg, v Verdict) {
	attempts := 1
	if meta, err := msg.Metadata(); err == nil {
		attempts = int(meta.NumDelivered)
	}
	stage := r.cfg.Stage
	switch v.Action {
	case Ack:
		_ = msg.Ack()
		return
	case Retry:
		if attempts < r.cfg.MaxAttempts {
			delay := max(v.Delay, Backoff(attempts, r.cfg.BackoffBase, r.cfg.BackoffMax))
			r.m.Retries.WithLabelValues(stage, category(v)).Inc()
			r.cfg.Logger.Debug("retry", "subject", msg.Subject(), "attempt", attempts, "delay", delay, "reason", v.Reason)
			_ = msg.NakWithDelay(delay)
			return
		}
		v.Reason = fmt.Sprintf("gave up after %d attempts: %s", attempts, v.Reason)
	}
	if err := r.publishDead(ctx, msg, v, attempts); err != nil {
		// Never drop: leave it to a later attempt.
		r.cfg.Logger.Error("dead letter publish failed; will retry", "subject", msg.Subject(), "err", err)
		_ = msg.NakWithDelay(Backoff(attempts, r.cfg.BackoffBase, r.cfg.BackoffMax))
		return
	}
	r.m.DeadLetters.WithLabelValues(stage, category(v)).Inc()
	r.cfg.Logger.Warn("dead letter", "stage", stage, "app", v.App, "subject", msg.Subject(),
		"attempts", attempts, "category", category(v), "reason", v.Reason)
	_ = msg.TermWithReason(truncate(v.Reason, 200))
}

func (r *Runner) publishDead(ctx context.Context, msg jetstream.Msg, v Verdict, attempts int) error {
	d := events.DeadLetter{
		Stage: r.cfg.Stage, App: v.App, Reason: v.Reason, Attempts: attempts, At: time.Now().UTC(),
		Subject: msg.Subject(), IntentID: v.IntentID, Tokens: v.Tokens,
	}
	var seq uint64
	if meta, err := msg.Metadata(); err == nil {
		d.Stream, seq = meta.Stream, meta.Sequence.Stream
		d.Seq = seq
	}
	if h := msg.Headers(); len(h) > 0 {
		d.Headers = map[string][]string(h)
	}
	d.SetPayload(msg.Data())
	body, err := json.Marshal(d)
	if err != nil {
		return err
	}
	out := nats.NewMsg(events.DeadSubject(r.cfg.Stage, v.App))
	out.Data = body
	out.Header.Set(events.HeaderReason, truncate(v.Reason, 200))
	out.Header.Set(events.HeaderStage, r.cfg.Stage)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// The id makes a repeated publish of the same dead letter (after a crash
	// between publish and term) a no-op.
	_, err = r.js.PublishMsg(pctx, out, jetstream.WithMsgID(fmt.Sprintf("dead.%s.%d.%d", d.Stream, seq, attempts)))
	return err
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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// keepAlive tells the server every interval that msg is still being worked
// on, so a slow handler does not get its message redelivered elsewhere. The
// returned func stops it.
func keepAlive(msg jetstream.Msg, interval time.Duration) (stop func()) {
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
		_ = msg.InProgress()
		t.Reset(interval)
	})
	return func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		t.Stop()
	}
}
