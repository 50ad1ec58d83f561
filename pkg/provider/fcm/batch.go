package fcm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// sendWorkers is how many messages of one batch are in flight at once (the
// Admin SDK's SendEach runs 50 too).
const sendWorkers = 50

// batch is what the messages of one batch share.
type batch struct {
	a      *app
	tmpl   *messaging.Message
	expiry time.Time // zero: none
	// topics maps a topic job's tokens (topic keys, events.Topic.Key) to
	// their topics; nil for a job to devices.
	topics map[string]events.Topic
}

// sendBatch sends up to MaxBatch tokens, one FCM request each, and writes
// their results to out, in order.
func (s *Sender) sendBatch(ctx context.Context, b batch, tokens []string, out []provider.Result) {
	// An empty token would make the SDK reject the message.
	send, idx := tokens, []int(nil)
	if slices.Contains(tokens, "") {
		send, idx = provider.NonEmpty(tokens)
	}
	res := out
	if idx != nil {
		res = make([]provider.Result, len(send))
		fill(out, provider.Result{Kind: provider.Permanent, Reason: "empty token", Err: fmt.Errorf("%w: empty registration token", provider.ErrBadMessage)})
		defer func() {
			for j, i := range idx {
				out[i] = res[j]
			}
		}()
	}
	for len(send) > 0 {
		probe, ok := s.admit(ctx, b.a, len(send), res)
		if !ok {
			return
		}
		if probe {
			// The project's first message after a quota hold goes alone:
			// its answer decides whether the rest may follow.
			s.sendMessages(ctx, b, send[:1], res[:1], true)
			<-s.batches
			send, res = send[1:], res[1:]
			continue
		}
		s.sendMessages(ctx, b, send, res, false)
		<-s.batches
		return
	}
}

// sendMessages sends tokens, sendWorkers at a time, within the batch slot
// the caller holds. With probe, tokens is the project's probe and its
// outcome is reported to the gate.
func (s *Sender) sendMessages(ctx context.Context, b batch, tokens []string, res []provider.Result, probe bool) {
	bctx, cancel := context.WithTimeout(ctx, s.cfg.BatchTimeout)
	defer cancel()
	if probe {
		outcome := probeNoAnswer
		defer func() { b.a.gate.endProbe(outcome) }()
		defer func() { outcome = probeOutcome(res[0]) }()
	}
	if err := b.a.creds.ensure(bctx); err != nil {
		r := classifyTokenError(err)
		if ctx.Err() != nil {
			r = contextResult(ctx)
		}
		fill(res, r)
		if r.Kind == provider.CredentialError {
			s.cfg.Metrics.CountCredentialError(platform, b.a.name)
			s.noteCredentials(b.a, r)
		}
		return
	}
	var (
		mu   sync.Mutex
		once batchOnce
	)
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(sendWorkers, len(tokens)) {
		wg.Go(func() {
			for i := range work {
				r := s.sendOne(bctx, b, tokens[i])
				r.Token = tokens[i]
				res[i] = r
				s.react(bctx, b.a, tokens[i], r, &mu, &once)
			}
		})
	}
	for i := range tokens {
		work <- i
	}
	close(work)
	wg.Wait()
}

// batchOnce remembers what was already logged or done for one batch.
type batchOnce struct {
	held, cred, reset bool
}

// react applies what one answer says about the project: QUOTA_EXCEEDED
// holds it (the messages not yet sent are held back), a refused access
// token is dropped so the next request fetches a new one, a credential
// error is logged once per batch.
func (s *Sender) react(ctx context.Context, a *app, token string, r provider.Result, mu *sync.Mutex, once *batchOnce) {
	if s.log.Enabled(ctx, slog.LevelDebug) && r.Kind != provider.Delivered {
		s.log.Debug("fcm answer", "app", a.name, "token_ref", tokenRef(token), "kind", r.Kind.String(), "reason", r.Reason)
	}
	if !r.Sent() {
		return
	}
	switch {
	case r.Kind == provider.Retry && errors.Is(r.Err, provider.ErrRateLimited):
		mu.Lock()
		first := !once.held
		once.held = true
		mu.Unlock()
		a.gate.slowDown(time.Now(), r.RetryAfter, first)
		if first {
			s.log.Warn("fcm quota exceeded, holding project", "app", a.name, "project", a.conf.ProjectID, "retry_after", r.RetryAfter)
		}
	case r.Kind == provider.CredentialError:
		mu.Lock()
		first, reset := !once.cred, r.Reason == "UNAUTHENTICATED" && !once.reset
		once.cred = true
		once.reset = once.reset || reset
		mu.Unlock()
		if reset {
			a.creds.reset()
		}
		if first {
			s.noteCredentials(a, r)
		}
	}
}

// sendOne sends the message for one token, unless the project is held or
// the notification expired: both are checked right before the request (and
// again before any retry the SDK makes itself).
func (s *Sender) sendOne(ctx context.Context, b batch, token string) provider.Result {
	now := time.Now()
	switch {
	case ctx.Err() != nil:
		return contextResult(ctx)
	case !b.expiry.IsZero() && !b.expiry.After(now):
		return provider.ExpiredResult(token, b.expiry)
	}
	if d := b.a.gate.held(now); d > 0 {
		return heldResult(b.a, d)
	}
	mctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	log := &attempts{expiry: b.expiry, cancel: cancel}
	m := *b.tmpl
	if b.topics != nil {
		tp, ok := b.topics[token]
		if !ok {
			return provider.Result{Kind: provider.Permanent, Reason: "unknown topic key",
				Err: fmt.Errorf("%w: %q names none of the job's topics", provider.ErrBadMessage, token)}
		}
		m.Topic, m.Condition = tp.Topic, tp.Condition
	} else {
		m.Token = token
	}
	_, err := b.a.client.Send(context.WithValue(mctx, attemptsKey{}, log), &m)
	answered := time.Now()
	var r provider.Result
	switch {
	case errors.Is(context.Cause(mctx), errExpiredBeforeRetry):
		r = provider.ExpiredResult(token, b.expiry)
	case err != nil && isValidationError(ctx, err):
		// The SDK's own check refused the message before any request.
		return provider.Result{Kind: provider.Permanent, Reason: "invalid message: " + err.Error(), Err: fmt.Errorf("%w: %v", provider.ErrBadMessage, err)}
	default:
		r = classify(ctx, err, answered)
		if errors.Is(r.Err, provider.ErrRateLimited) && r.RetryAfter <= 0 {
			r.RetryAfter = s.cfg.QuotaRetryAfter
		}
		r.AnsweredAt = answered
		if b.topics != nil {
			r = topicResult(r)
		}
	}
	s.observe(b.a, log.durations, r.Kind)
	return r
}

// topicResult adapts a result to a topic: a topic is no device token, so
// nothing FCM answers may invalidate or replace it. An answer that would
// (UNREGISTERED, SENDER_ID_MISMATCH, a "not a valid registration token")
// is about the request, and is Permanent.
func topicResult(r provider.Result) provider.Result {
	if r.Kind == provider.InvalidToken || r.Kind == provider.TokenReplaced {
		r.Kind, r.NewToken = provider.Permanent, ""
		r.Err = fmt.Errorf("%w: topic send refused: %v", provider.ErrBadMessage, r.Err)
	}
	return r
}

// observe records each HTTP request made for one message: the SDK's own
// retries (of 503s and network errors) as Retry, the last with the
// message's final kind.
func (s *Sender) observe(a *app, durations []time.Duration, final provider.Kind) {
	for i, d := range durations {
		k := provider.Retry
		if i == len(durations)-1 && final != provider.Expired {
			k = final
		}
		s.cfg.Metrics.ObserveRequest(platform, a.name, k, d)
	}
}

// isValidationError reports an error of the SDK that comes from no HTTP
// request: not a Firebase error, not the context ending.
func isValidationError(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return errorutils.HTTPResponse(err) == nil && !errorutils.IsUnknown(err) &&
		!errorutils.IsUnavailable(err) && !errorutils.IsDeadlineExceeded(err)
}

// admit passes the project's hold, probe and rate limit for n messages and
// takes a batch slot, which the caller releases. With probe true the caller
// must send exactly one message, the project's probe after a quota hold,
// and then admit the rest again. When ok is false nothing was taken and res
// holds a Retry result (never sent) for every token.
func (s *Sender) admit(ctx context.Context, a *app, n int, res []provider.Result) (probe, ok bool) {
	for {
		st, d, probeDone := a.gate.enter(time.Now())
		switch st {
		case gateHeld:
			fill(res, heldResult(a, d))
			return false, false
		case gateProbing:
			select {
			case <-probeDone:
				continue
			case <-ctx.Done():
				fill(res, provider.Result{Kind: provider.Retry, Reason: "QUOTA_EXCEEDED probe",
					Err: fmt.Errorf("%w: %w: project %s: waiting for the probe after QUOTA_EXCEEDED: %w",
						provider.ErrRateLimited, provider.ErrNotSent, a.conf.ProjectID, ctx.Err())})
				return false, false
			}
		case gateProbe:
			probe, n = true, 1
		}
		break
	}
	ok = s.reserve(ctx, a, n, res)
	if probe && !ok {
		a.gate.endProbe(probeNoAnswer)
	}
	return probe, ok
}

// reserve takes n messages of the project's rate and a batch slot.
func (s *Sender) reserve(ctx context.Context, a *app, n int, res []provider.Result) bool {
	now := time.Now()
	maxWait := s.cfg.BatchTimeout
	if dl, ok := ctx.Deadline(); ok {
		maxWait = time.Until(dl)
	}
	wait, ok := a.gate.reserve(now, n, maxWait)
	if !ok {
		fill(res, provider.Result{Kind: provider.Retry, Reason: "local rate limit", RetryAfter: wait,
			Err: fmt.Errorf("%w: %w: project %s rate limit needs %v", provider.ErrRateLimited, provider.ErrNotSent, a.conf.ProjectID, wait.Round(time.Millisecond))})
		return false
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			a.gate.refund(n)
			fill(res, contextResult(ctx))
			return false
		}
	}
	select {
	case s.batches <- struct{}{}:
		return true
	case <-ctx.Done():
		a.gate.refund(n)
		fill(res, contextResult(ctx))
		return false
	}
}

// heldResult is the result of a token not sent because the project is held
// after QUOTA_EXCEEDED, d longer.
func heldResult(a *app, d time.Duration) provider.Result {
	return provider.Result{Kind: provider.Retry, Reason: "QUOTA_EXCEEDED", RetryAfter: d,
		Err: fmt.Errorf("%w: %w: project %s held for %v after QUOTA_EXCEEDED", provider.ErrRateLimited, provider.ErrNotSent, a.conf.ProjectID, d.Round(time.Millisecond))}
}

// probeOutcome is what the probe's result says about the project's quota.
func probeOutcome(r provider.Result) probeResult {
	switch {
	case !r.Sent():
		return probeNoAnswer
	case r.Kind == provider.Retry && errors.Is(r.Err, provider.ErrRateLimited):
		return probeLimited
	case r.Kind == provider.Retry:
		return probeNoAnswer // unreachable or failing: says nothing about the quota
	}
	return probeAnswered
}

// noteCredentials logs a credential error; it needs an operator.
func (s *Sender) noteCredentials(a *app, r provider.Result) {
	if r.Kind != provider.CredentialError {
		return
	}
	s.log.Error("fcm rejected the app's credentials", "app", a.name, "project", a.conf.ProjectID,
		"client_email", a.sa.email, "reason", r.Reason, "err", r.Err)
}

// tokenRef names a token in logs without revealing it.
func tokenRef(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:6])
}
