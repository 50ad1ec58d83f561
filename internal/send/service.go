package send

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/semaphore"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/feedback"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/tracing"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Service is the consumer.Handler of one platform's job stream.
type Service struct {
	cfg    Config
	sender provider.Sender
	js     jetstream.Publisher
	fb     *feedback.Publisher
	m      *metrics.Fleet
	paused *pauses
	cb     *breaker
	tokens *semaphore.Weighted // MaxTokensInFlight
	now    func() time.Time
}

// New returns a Service delivering through sender.
func New(cfg Config, sender provider.Sender, js jetstream.Publisher, m *metrics.Fleet) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	s := &Service{cfg: cfg, sender: sender, js: js, fb: feedback.NewPublisher(js), m: m,
		paused: newPauses(cfg.PauseMin, cfg.PauseMax), tokens: semaphore.NewWeighted(int64(cfg.MaxTokensInFlight)),
		now: time.Now}
	gauge := m.CircuitOpen.WithLabelValues(string(cfg.Platform))
	s.cb = newBreaker(cfg.BreakerThreshold, cfg.BreakerMin, cfg.BreakerMax, func(open bool) {
		if open {
			gauge.Set(1)
			cfg.Logger.Error("provider unavailable: circuit open, consumption paused", "platform", cfg.Platform)
			return
		}
		gauge.Set(0)
		cfg.Logger.Info("provider answering again: circuit closed", "platform", cfg.Platform)
	})
	return s, nil
}

// Handle delivers one job.
func (s *Service) Handle(ctx context.Context, msg jetstream.Msg) consumer.Verdict {
	job, err := events.DecodeJob(msg.Data())
	if err != nil {
		return consumer.DeadLetter("", "malformed", err.Error())
	}
	if job.Platform != s.cfg.Platform {
		return s.dead(job, all(job), "malformed", fmt.Sprintf("job for %s on the %s stream", job.Platform, s.cfg.Platform))
	}
	if v, done := s.dedup(ctx, msg, job); done {
		return v
	}
	attempts := job.Attempt + 1
	if meta, err := msg.Metadata(); err == nil {
		attempts = job.Attempt + int(meta.NumDelivered)
	}
	now := s.now()
	if job.Expired(now) {
		return s.expire(ctx, job, all(job), "expired before sending")
	}
	if wait := s.paused.remaining(job.App, now); wait > 0 {
		if job.Expired(now.Add(wait)) {
			return s.expire(ctx, job, all(job), "expires while its app is paused")
		}
		return consumer.RetryAfter(wait, "app_paused", "app paused after a credential error")
	}
	return s.deliver(ctx, job, attempts)
}

// deliver sends job through the provider and settles its results, in one
// span (tracing.SpanSend) under the job's trace: the feedback events and
// the re-queued job it publishes carry that span's context.
func (s *Service) deliver(ctx context.Context, job *events.Job, attempts int) consumer.Verdict {
	ctx, span := tracing.Start(ctx, tracing.SpanSend, trace.SpanKindClient)
	if span.IsRecording() && job.Coalesced() {
		linkParts(span, job)
	}
	results, v := s.sendAndSettle(ctx, job, attempts)
	if span.IsRecording() {
		sendAttributes(span, job, attempts, results)
	}
	consumer.EndSpan(span, v)
	return v
}

func (s *Service) sendAndSettle(ctx context.Context, job *events.Job, attempts int) ([]provider.Result, consumer.Verdict) {
	results, err := s.call(ctx, job)
	if err != nil {
		return nil, consumer.RetryAfter(0, "shutdown", err.Error())
	}
	if len(results) != len(job.Tokens) {
		// A provider bug must not lose tokens: retry the whole job.
		s.cfg.Logger.Error("provider returned a wrong number of results", "want", len(job.Tokens), "got", len(results))
		return results, consumer.RetryAfter(0, "provider_bug", "provider returned a wrong number of results")
	}
	return results, s.settle(ctx, job, attempts, results)
}

// linkParts links a coalesced job's send span to the dispatch of each of
// its notifications: the span is a child of the first one's trace (the
// job's headers) and linked from every other intent's trace.
func linkParts(span trace.Span, job *events.Job) {
	for k := range job.Parts {
		tp := job.Parts[k].Trace
		if tp == "" {
			continue
		}
		ctx := tracing.Extract(context.Background(), nats.Header{tracing.HeaderTraceparent: {tp}})
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && sc.TraceID() != span.SpanContext().TraceID() {
			span.AddLink(trace.Link{SpanContext: sc})
		}
	}
}

// sendAttributes describes a send on its span: the job (never a token) and
// how many of its tokens got each outcome.
func sendAttributes(span trace.Span, job *events.Job, attempts int, results []provider.Result) {
	attrs := make([]attribute.KeyValue, 0, 6+len(events.Outcomes))
	attrs = append(attrs,
		attribute.String(tracing.AttrPlatform, string(job.Platform)),
		attribute.String(tracing.AttrApp, job.App),
		attribute.String(tracing.AttrJobID, job.ID),
		attribute.Int(tracing.AttrTokens, len(job.Tokens)),
		attribute.Int(tracing.AttrAttempt, attempts))
	if job.Coalesced() {
		// Each notification's intent is in its part (and its feedback).
		attrs = append(attrs, attribute.Int(tracing.AttrIntents, len(job.Parts)))
	} else {
		attrs = append(attrs, attribute.String(tracing.AttrIntentID, job.IntentID))
	}
	n := make([]int, len(events.Outcomes))
	for _, r := range results {
		if k := slices.Index(events.Outcomes, outcomeOf(r.Kind)); k >= 0 {
			n[k]++
		}
	}
	for k, c := range n {
		if c > 0 {
			attrs = append(attrs, attribute.Int(tracing.AttrOutcomePrefix+string(events.Outcomes[k]), c))
		}
	}
	span.SetAttributes(attrs...)
}

// call hands job to the provider once the breaker and the bound on tokens
// in flight let it. A job that expired while it waited is not sent: every
// token is Expired. The breaker learns how the call ended whatever happens,
// a panic in the provider included, so a probe never leaves it half-open.
func (s *Service) call(ctx context.Context, job *events.Job) (results []provider.Result, err error) {
	if job.Coalesced() {
		return s.callParts(ctx, job)
	}
	// While the provider is down, wait here instead of spending retries.
	done, err := s.cb.wait(ctx)
	if err != nil {
		return nil, errors.New("stopped while the provider was unavailable")
	}
	o := noAnswer
	defer func() { done(o) }()
	release, err := s.acquire(ctx, len(job.Tokens))
	if err != nil {
		return nil, err
	}
	defer release()
	sctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	results = s.sendOne(sctx, job)
	o = breakerOutcome(results)
	return results, nil
}

// acquire takes room for n tokens at the provider (at most
// MaxTokensInFlight, so that one big job still fits).
func (s *Service) acquire(ctx context.Context, n int) (release func(), err error) {
	weight := min(int64(n), int64(s.cfg.MaxTokensInFlight))
	if err := s.tokens.Acquire(ctx, weight); err != nil {
		return nil, errors.New("stopped while waiting for room at the provider")
	}
	return func() { s.tokens.Release(weight) }, nil
}

// sendOne sends a single-notification job, unless it has expired.
func (s *Service) sendOne(ctx context.Context, job *events.Job) []provider.Result {
	if job.Expired(s.now()) {
		return provider.All(job.Tokens, provider.Expired, "expired before sending", provider.ErrExpired)
	}
	return s.sender.Send(ctx, job)
}

// callParts sends each notification of a coalesced job at once, as a job
// of its own (a provider.Sender knows one notification per call), and puts
// the results back in the job's token order. Each notification passes the
// breaker on its own, as a job would: while the provider is down, only a
// probe reaches it and the others wait, so that coalescing never turns an
// outage into more requests or spent attempts. A notification stopped
// while it waits is not sent (tried again); a provider that returns a
// wrong number of results for one gets its tokens retried.
func (s *Service) callParts(ctx context.Context, job *events.Job) ([]provider.Result, error) {
	release, err := s.acquire(ctx, len(job.Tokens))
	if err != nil {
		return nil, err
	}
	defer release()
	results := make([]provider.Result, len(job.Tokens))
	var wg sync.WaitGroup
	for _, sub := range job.Split() {
		wg.Go(func() {
			rs := s.callPart(ctx, sub.Job)
			for n, i := range sub.Index {
				results[i] = rs[n]
			}
		})
	}
	wg.Wait()
	return results, nil
}

func (s *Service) callPart(ctx context.Context, job *events.Job) []provider.Result {
	done, err := s.cb.wait(ctx)
	if err != nil {
		return provider.All(job.Tokens, provider.Retry, "canceled",
			fmt.Errorf("%w: %w: stopped while the provider was unavailable", provider.ErrUnavailable, provider.ErrNotSent))
	}
	o := noAnswer
	defer func() { done(o) }()
	sctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	rs := s.sendOne(sctx, job)
	if len(rs) != len(job.Tokens) {
		s.cfg.Logger.Error("provider returned a wrong number of results", "want", len(job.Tokens), "got", len(rs))
		return provider.All(job.Tokens, provider.Retry, "provider_bug", errors.New("wrong number of results"))
	}
	o = breakerOutcome(rs)
	return rs
}

// expire reports the tokens of job at positions idx expired (a final
// outcome) and acks it.
func (s *Service) expire(ctx context.Context, job *events.Job, idx []int, reason string) consumer.Verdict {
	if err := s.report(ctx, job, idx, events.Expired, reason); err != nil {
		return consumer.RetryAfter(0, "publish", err.Error())
	}
	return consumer.Done()
}

// all returns the positions of every token of job.
func all(job *events.Job) []int {
	idx := make([]int, len(job.Tokens))
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// giveUp dead-letters the tokens at idx, whose retry budget is spent.
func (s *Service) giveUp(ctx context.Context, job *events.Job, idx []int, attempts int, reason string) consumer.Verdict {
	if err := s.report(ctx, job, idx, events.Dead, "gave up after retries"); err != nil {
		return consumer.RetryAfter(0, "publish", err.Error())
	}
	return s.dead(job, idx, "max_attempts", fmt.Sprintf("gave up after %d attempts: %s", attempts, reason))
}

// requeue publishes the tokens of a job at positions idx as a new job that
// fires after the delay (a message schedule in the platform's retry
// stream, released on its due subject, which the sender also consumes),
// carrying attempt as its spent attempts, so that the tokens already
// settled are not sent again. Tokens whose notification would have expired
// by then are reported expired now instead. category labels the re-queue
// in pushfleet_retries_total.
func (s *Service) requeue(ctx context.Context, job *events.Job, idx []int, attempt int, after time.Duration, category string) error {
	delay := max(after, consumer.Backoff(max(attempt, 1), s.cfg.RetryBase, s.cfg.RetryMax))
	delay = min(delay, provider.MaxRetryAfter)
	// A schedule names whole seconds (RFC 3339): round up, so the tokens
	// never come back before the provider's wait is over.
	at := s.now().Add(delay)
	if r := at.Truncate(time.Second); r.Before(at) {
		at = r.Add(time.Second)
	}
	var expiring, keep []int
	for _, i := range idx {
		if job.ExpiresBy(i, at) {
			expiring = append(expiring, i)
		} else {
			keep = append(keep, i)
		}
	}
	if len(expiring) > 0 {
		if err := s.report(ctx, job, expiring, events.Expired, "expires before its next try"); err != nil {
			return err
		}
	}
	if len(keep) == 0 {
		return nil
	}
	next := job.Subset(keep)
	next.Generation = job.Generation + 1
	next.ID = events.RetryJobID(job.ID, next.Generation)
	next.Attempt = attempt
	data, err := json.Marshal(next)
	if err != nil {
		return err
	}
	target := events.RetryDueSubject(job.Platform, job.App)
	// The re-queued job goes on in the same trace: the schedule keeps its
	// headers when it releases it.
	msg := &nats.Msg{Subject: events.RetrySubject(job.Platform, job.App, next.ID), Data: data, Header: tracing.Header(ctx)}
	_, err = s.js.PublishMsg(ctx, msg, jetstream.WithMsgID(events.JobMsgID(job.App, next.ID)),
		jetstream.WithScheduleAt(at), jetstream.WithScheduleTarget(target))
	if err == nil {
		s.m.Jobs.WithLabelValues(string(job.Platform)).Inc()
		s.m.Retries.WithLabelValues(events.SenderStage(job.Platform), category).Inc()
	}
	return err
}

// dead dead-letters the tokens of a job at positions idx. When only part
// of the job is dead the rest is already settled and recorded in feedback;
// the dead letter holds only the dead tokens (the job, with each token's
// intent, is its payload), and the runner terms the message.
func (s *Service) dead(job *events.Job, idx []int, category, reason string) consumer.Verdict {
	v := consumer.DeadLetter(job.App, category, reason)
	v.IntentID, v.Tokens = job.IntentID, tokensAt(job, idx)
	return v
}

// report publishes outcome o for the tokens of job at positions idx.
func (s *Service) report(ctx context.Context, job *events.Job, idx []int, o events.Outcome, reason string) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PublishTimeout)
	defer cancel()
	now := s.now().UTC()
	fbs := make([]events.Feedback, len(idx))
	for n, i := range idx {
		fbs[n] = events.Feedback{App: job.App, Platform: job.Platform, Token: job.Tokens[i], Outcome: o,
			Reason: reason, IntentID: job.IntentOf(i), JobID: job.ID, At: now}
	}
	s.count(job, fbs)
	return s.fb.Publish(ctx, fbs)
}

// unavailable reports whether every token sent failed because the
// provider could not be reached or was overloaded: the breaker's signal.
// Rate limits and credential errors are not outages; tokens held back or
// expired before their request say nothing.
func unavailable(results []provider.Result) bool {
	sent := 0
	for _, r := range results {
		if !r.Sent() {
			continue
		}
		if r.Kind != provider.Retry || errors.Is(r.Err, provider.ErrRateLimited) {
			return false
		}
		sent++
	}
	return sent > 0
}

// breakerOutcome is what a provider call tells the breaker: unreachable,
// answered, or nothing when no token reached the provider.
func breakerOutcome(results []provider.Result) outcome {
	if unavailable(results) {
		return unreachable
	}
	for _, r := range results {
		if r.Sent() {
			return answered
		}
	}
	return noAnswer
}

// count adds a job's outcomes to the notifications counter: one label
// lookup per outcome present, not one per token.
func (s *Service) count(job *events.Job, fbs []events.Feedback) {
	n := make([]int, len(events.Outcomes))
	for i := range fbs {
		if k := slices.Index(events.Outcomes, fbs[i].Outcome); k >= 0 {
			n[k]++
		}
	}
	app := "" // the app's label, looked up once per job
	for k, c := range n {
		if c > 0 {
			if app == "" {
				app = s.m.App(job.App)
			}
			s.m.Notifications.WithLabelValues(string(job.Platform), app, string(events.Outcomes[k])).Add(float64(c))
		}
	}
}

// detailedReason is a dead letter's reason: the provider's reason plus the
// error's detail (MiPush's text behind a bare code, say) when it adds any.
func detailedReason(r provider.Result) string {
	reason := resultReason(r)
	if r.Err == nil {
		return reason
	}
	if d := r.Err.Error(); d != reason && !strings.Contains(reason, d) {
		return reason + ": " + d
	}
	return reason
}

func resultReason(r provider.Result) string {
	if r.Reason != "" {
		return r.Reason
	}
	if r.Err != nil {
		return r.Err.Error()
	}
	return r.Kind.String()
}

func category(credReason string) string {
	if credReason != "" {
		return "credentials"
	}
	return "provider"
}
