// Package channel is how a team adds a delivery channel to pushfleet (a
// webhook, e-mail, SMS, a chat system…) with the guarantees of the built-in
// senders. A channel implements one method, Deliverer.Deliver: deliver one
// notification to one target and say how it went, as a provider.Result
// (Delivered, InvalidToken, Retry with an optional wait, Permanent,
// CredentialError). NewSender turns it into a provider.Sender, and the
// fleet's sender service runs that like the APNs, FCM and MiPush senders:
// jobs are acknowledged only after every token has its answer, failed
// tokens are re-queued with backoff (honouring RetryAfter) up to the retry
// budget and then dead-lettered, every answer becomes feedback (an
// InvalidToken answer retires the token in the registry), metrics are
// labelled with the channel's platform, a credential error pauses the app,
// and SIGTERM drains what is in flight.
//
// What NewSender adds around Deliver: bounded concurrency per job, results
// in the job's order, the expiry checked right before each delivery (an
// expired notification is never delivered, and reported "expired"), ctx
// honoured (tokens not yet delivered when it ends are retried, marked not
// sent), panics and missing answers turned into retries, and the provider
// metrics (request duration by kind, requests in flight, credential
// errors).
//
// The channel's platform name is declared in every process that handles
// it (events.DeclarePlatform, or --platforms on the services); the binary
// that runs the sender lives in cmd/ and wires it through the fleet's
// assembly (internal/providers), as cmd/webhook-sender does with
// pkg/channel/webhook. docs/channels.md is the walkthrough.
//
// This package imports no NATS and nothing internal: a channel is a pure
// provider, testable with pkg/provider/providertest.
package channel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Delivery is one notification for one target of a job.
type Delivery struct {
	Platform events.Platform
	App      string
	// Token is the target, as the app registered it: an address, a
	// subscriber id, a phone number… whatever the channel understands.
	Token string
	// JobID, IntentID and Attempt (earlier tries of this token) identify
	// the delivery; ID is stable across retries of the same token of the
	// same intent, for the receiver's dedup.
	JobID, IntentID string
	Attempt         int
	ID              string
	Notification    *events.Notification
	// CreatedAt is when the intent was accepted.
	CreatedAt time.Time
}

// Deliverer delivers one notification to one target. It returns the
// answer's classification; NewSender fills Token and AnsweredAt when they
// are left empty. It must honour ctx and be safe for concurrent use.
type Deliverer interface {
	Deliver(ctx context.Context, d Delivery) provider.Result
}

// DelivererFunc is a function as a Deliverer.
type DelivererFunc func(ctx context.Context, d Delivery) provider.Result

// Deliver calls f.
func (f DelivererFunc) Deliver(ctx context.Context, d Delivery) provider.Result { return f(ctx, d) }

// DefaultConcurrency is how many deliveries of one job run at once.
const DefaultConcurrency = 8

// Options tune a Sender. Zero values take the defaults.
type Options struct {
	// Concurrency bounds the deliveries of one job running at once
	// (default DefaultConcurrency). The sender service bounds the jobs.
	Concurrency int
	// MaxRequests bounds the deliveries running at once across every job
	// of the sender, a channel's "connection pool" (0: only Concurrency
	// per job bounds them).
	MaxRequests int
	// Metrics receives the provider instruments (nil: none).
	Metrics *provider.Metrics
	// Now is the clock for expiry checks (default time.Now).
	Now func() time.Time
}

// Sender runs a Deliverer for every token of a job: a provider.Sender.
type Sender struct {
	d    Deliverer
	opts Options
	// pool holds MaxRequests slots (nil: unbounded).
	pool chan struct{}
}

// NewSender returns a provider.Sender delivering each token with d.
func NewSender(d Deliverer, o Options) *Sender {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Sender{d: d, opts: o}
	if o.MaxRequests > 0 {
		s.pool = make(chan struct{}, o.MaxRequests)
	}
	return s
}

// Close closes the Deliverer if it holds resources (provider.Closer).
func (s *Sender) Close() error {
	if c, ok := s.d.(provider.Closer); ok {
		return c.Close()
	}
	return nil
}

// Send delivers the job's notification to each of its tokens and returns
// one result per token, in order.
func (s *Sender) Send(ctx context.Context, job *events.Job) []provider.Result {
	rs := make([]provider.Result, len(job.Tokens))
	sem := make(chan struct{}, s.opts.Concurrency)
	var wg sync.WaitGroup
	for i, tok := range job.Tokens {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			rs[i] = notSent(tok, ctx.Err())
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if s.pool != nil {
				select {
				case s.pool <- struct{}{}:
					defer func() { <-s.pool }()
				case <-ctx.Done():
					rs[i] = notSent(tok, ctx.Err())
					return
				}
			}
			if err := ctx.Err(); err != nil {
				rs[i] = notSent(tok, err)
				return
			}
			// Checked right before each delivery: a backlog never
			// delivers a stale notification.
			if job.Expired(s.opts.Now()) {
				rs[i] = provider.ExpiredResult(tok, *job.Notification.Expiry)
				return
			}
			rs[i] = s.deliver(ctx, job, tok)
		})
	}
	wg.Wait()
	return rs
}

func (s *Sender) deliver(ctx context.Context, job *events.Job, tok string) (r provider.Result) {
	p := string(job.Platform)
	s.opts.Metrics.AddInFlight(p, 1)
	start := time.Now()
	defer func() {
		s.opts.Metrics.AddInFlight(p, -1)
		if v := recover(); v != nil {
			r = Retry(fmt.Sprintf("channel panicked: %v", v), 0, provider.ErrUnavailable)
		}
		r.Token = tok
		if r.Kind == 0 {
			r = Retry("channel gave no answer", 0, provider.ErrUnavailable)
			r.Token = tok
		}
		if r.AnsweredAt.IsZero() && r.Sent() {
			r.AnsweredAt = time.Now()
		}
		if r.Sent() {
			s.opts.Metrics.ObserveRequest(p, job.App, r.Kind, time.Since(start))
		}
		if r.Kind == provider.CredentialError {
			s.opts.Metrics.CountCredentialError(p, job.App)
		}
	}()
	return s.d.Deliver(ctx, Delivery{
		Platform: job.Platform, App: job.App, Token: tok, JobID: job.ID, IntentID: job.IntentID,
		Attempt: job.Attempt, ID: DeliveryID(job.App, job.IntentID, tok),
		Notification: &job.Notification, CreatedAt: job.CreatedAt,
	})
}

// DeliveryID is stable across every retry of one token of one intent: the
// receiver's idempotency key.
func DeliveryID(app, intentID, token string) string {
	h := sha256.New()
	for _, part := range []string{app, intentID, token} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// notSent is a token left alone because ctx ended: tried again later, with
// no outcome recorded.
func notSent(tok string, err error) provider.Result {
	return provider.Result{Token: tok, Kind: provider.Retry, Reason: "not sent: " + err.Error(),
		Err: errors.Join(provider.ErrNotSent, provider.ErrUnavailable, err)}
}

// Delivered is a delivery the channel accepted.
func Delivered() provider.Result { return provider.Result{Kind: provider.Delivered} }

// InvalidToken is a target that is gone for good: the token is retired.
func InvalidToken(reason string) provider.Result {
	return provider.Result{Kind: provider.InvalidToken, Reason: reason, Err: provider.ErrInvalidToken}
}

// Retry is a transient failure; after is the channel's requested wait
// (zero: the sender's backoff), capped at provider.MaxRetryAfter. cause is
// matched with errors.Is (provider.ErrRateLimited, ErrUnavailable…).
func Retry(reason string, after time.Duration, cause error) provider.Result {
	return provider.Result{Kind: provider.Retry, Reason: reason, RetryAfter: min(max(after, 0), provider.MaxRetryAfter), Err: cause}
}

// Permanent is a message the channel will never accept as it is: it is
// dead-lettered without retries.
func Permanent(reason string, cause error) provider.Result {
	return provider.Result{Kind: provider.Permanent, Reason: reason, Err: cause}
}

// CredentialError is the channel refusing our credentials: the app's
// sends pause and the token is kept.
func CredentialError(reason string) provider.Result {
	return provider.Result{Kind: provider.CredentialError, Reason: reason, Err: provider.ErrCredentials}
}

// UnknownApp is the result for an app without configuration for the
// channel (permanent: dead-lettered with the reason).
func UnknownApp(app string) provider.Result {
	return Permanent("app "+app+" not configured", provider.ErrUnknownApp)
}

// HTTPResult classifies an HTTP answer the way the built-in providers do:
//
//	2xx                    delivered
//	404, 410               invalid token (the target is gone)
//	401, 403               credential error (the app pauses)
//	408, 425, 429          retry after Retry-After (rate limited)
//	5xx                    retry after Retry-After, if any (unavailable)
//	413                    permanent, payload too large
//	other 4xx, 1xx, 3xx    permanent (bad message)
//
// A transport error (err != nil) is a retry. HTTPResult neither reads nor
// closes the body.
func HTTPResult(resp *http.Response, err error, now time.Time) provider.Result {
	if err != nil {
		return Retry("transport: "+err.Error(), 0, fmt.Errorf("%w: %w", provider.ErrUnavailable, err))
	}
	code := resp.StatusCode
	reason := fmt.Sprintf("HTTP %d", code)
	after := provider.ParseRetryAfter(resp.Header.Get("Retry-After"), now)
	switch {
	case code >= 200 && code < 300:
		return Delivered()
	case code == http.StatusNotFound || code == http.StatusGone:
		return InvalidToken(reason)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return CredentialError(reason)
	case code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code == http.StatusTooEarly:
		return Retry(reason, after, provider.ErrRateLimited)
	case code >= 500:
		return Retry(reason, after, provider.ErrUnavailable)
	case code == http.StatusRequestEntityTooLarge:
		return Permanent(reason, provider.ErrPayloadTooLarge)
	}
	return Permanent(reason, provider.ErrBadMessage)
}
