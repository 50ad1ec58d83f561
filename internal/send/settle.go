package send

import (
	"context"
	"errors"
	"time"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// settle turns the per-token results into feedback and one verdict, in
// order: sort the answers (classify), count and time them, pause or resume
// the app on its credentials, store the feedback, then re-queue, retry,
// give up or dead-letter what is left (next).
func (s *Service) settle(ctx context.Context, job *events.Job, attempts int, results []provider.Result) consumer.Verdict {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PublishTimeout)
	defer cancel()
	now := s.now().UTC()
	a := classify(job, results, now, s.cfg.RateLimitBudget)
	s.observeLatency(job, results, now)
	s.count(job, a.feedback)
	s.pauseOrResume(job, now, &a)
	if err := s.fb.Publish(ctx, a.feedback); err != nil {
		return consumer.RetryAfter(0, "publish", "feedback not stored: "+err.Error())
	}
	return s.next(ctx, job, attempts, now, a)
}

// answers is what one job's provider results come to: the feedback to
// store and what happens next to each token. Tokens are named by their
// position in the job: a coalesced job may hold one device twice, for two
// notifications.
type answers struct {
	// total is the number of results, one per token of the job.
	total int
	// feedback holds one event per provider answer; a token held back
	// before any request (provider.ErrNotSent) has none.
	feedback []events.Feedback
	// retry are tokens to try again, spending an attempt, after at least
	// retryAfter; retryReason is the last one's reason.
	retry       []int
	retryAfter  time.Duration
	retryReason string
	// limited are rate-limited tokens inside their intent's rate-limit
	// budget: re-queued after limitedAfter without spending an attempt.
	limited      []int
	limitedAfter time.Duration
	// dead are tokens that cannot succeed; deadReason is the last one's.
	dead       []int
	deadReason string
	// credReason, when set, is why the provider rejected the app's
	// credentials (the last such reason).
	credReason string
	// answered: the provider took a message, or refused it for itself
	// (not for our credentials), so the app's credentials work.
	answered bool
}

// classify sorts a job's results: the outcome of each token's feedback and
// whether the token is done, retried, re-queued for a rate limit or dead.
// A rate-limited token is re-queued without spending an attempt while its
// intent is younger than rateLimitBudget at now. It has no side effects.
func classify(job *events.Job, results []provider.Result, now time.Time, rateLimitBudget time.Duration) answers {
	a := answers{total: len(results), feedback: make([]events.Feedback, 0, len(results))}
	for i, r := range results {
		// Throttling delays a push; it must not use up its attempts.
		a.add(i, r, now.Sub(job.CreatedOf(i)) < rateLimitBudget)
		fb := feedbackOf(job, i, r, now)
		if fb.Outcome == events.Failed && errors.Is(r.Err, provider.ErrNotSent) {
			// Held back before any request: no provider answered, so there
			// is nothing to report; the token is only tried again.
			continue
		}
		a.feedback = append(a.feedback, fb)
	}
	return a
}

// add files result r of token i under what happens to it next. A rate
// limit while inBudget re-queues the token without spending an attempt.
func (a *answers) add(i int, r provider.Result, inBudget bool) {
	switch r.Kind {
	case provider.Delivered, provider.InvalidToken, provider.TokenReplaced:
		a.answered = a.answered || r.Sent()
	case provider.Expired:
		// Final: reported, never retried.
	case provider.Permanent:
		a.answered = a.answered || r.Sent()
		a.dead = append(a.dead, i)
		a.deadReason = detailedReason(r)
	case provider.CredentialError:
		a.retry = append(a.retry, i)
		a.credReason = resultReason(r)
	case provider.Retry:
		if inBudget && errors.Is(r.Err, provider.ErrRateLimited) {
			a.limited = append(a.limited, i)
			a.limitedAfter = max(a.limitedAfter, r.RetryAfter)
			a.answered = a.answered || r.Sent()
			return
		}
		a.retry = append(a.retry, i)
		a.retryAfter = max(a.retryAfter, r.RetryAfter)
		a.retryReason = resultReason(r)
	default: // a kind this version does not know: never drop it.
		a.retry = append(a.retry, i)
		a.retryReason = resultReason(r)
	}
}

// outcomeOf is the feedback outcome of a provider's kind of answer: failed
// for every answer that is tried again, and for kinds this version does
// not know.
func outcomeOf(k provider.Kind) events.Outcome {
	switch k {
	case provider.Delivered:
		return events.Delivered
	case provider.Expired:
		return events.Expired
	case provider.InvalidToken:
		return events.InvalidToken
	case provider.TokenReplaced:
		return events.TokenReplaced
	case provider.Permanent:
		return events.Dead
	}
	return events.Failed
}

// feedbackOf is the feedback event of token i's answer, at the moment the
// provider answered for it (now when the provider does not say).
func feedbackOf(job *events.Job, i int, r provider.Result, now time.Time) events.Feedback {
	at := now
	if !r.AnsweredAt.IsZero() {
		at = r.AnsweredAt.UTC()
	}
	fb := events.Feedback{App: job.App, Platform: job.Platform, Token: r.Token, Outcome: outcomeOf(r.Kind),
		Reason: r.Reason, IntentID: job.IntentOf(i), JobID: job.ID, At: at}
	if r.Kind == provider.TokenReplaced {
		fb.NewToken = r.NewToken
	}
	if !r.ProviderAt.IsZero() {
		pat := r.ProviderAt.UTC()
		fb.ProviderAt = &pat
	}
	return fb
}

// observeLatency records, for every final answer from the provider
// (neither failed nor expired), the time from its intent's acceptance to it.
func (s *Service) observeLatency(job *events.Job, results []provider.Result, now time.Time) {
	observe := s.m.IntentToProvider.WithLabelValues(string(job.Platform))
	for i := range results {
		if o := outcomeOf(results[i].Kind); o != events.Failed && o != events.Expired {
			at := results[i].AnsweredAt
			if at.IsZero() {
				at = now
			}
			observe.Observe(at.Sub(job.CreatedOf(i)).Seconds())
		}
	}
}

// pauseOrResume pauses job's app when the provider rejected its
// credentials, making the retry wait at least the pause, and ends the
// pause once the provider answers for the app again.
func (s *Service) pauseOrResume(job *events.Job, now time.Time, a *answers) {
	if a.credReason != "" {
		d := s.paused.trip(job.App, now)
		s.m.AppsPaused.WithLabelValues(string(job.Platform), s.m.App(job.App)).Set(1)
		s.cfg.Logger.Error("provider rejected the app's credentials: sends paused, tokens kept",
			"app", job.App, "reason", a.credReason, "pause", d)
		a.retryAfter = max(a.retryAfter, d)
		a.retryReason = "credentials rejected: " + a.credReason
		return
	}
	if a.answered && s.paused.clear(job.App) {
		s.m.AppsPaused.WithLabelValues(string(job.Platform), s.m.App(job.App)).Set(0)
		s.cfg.Logger.Info("app sends resumed", "app", job.App)
	}
}

// next is the job's verdict once its feedback is stored: rate-limited
// tokens re-queued with the attempts they had, then the whole job retried
// (or given up, or expired) when every token is to be retried, else the
// retried tokens re-queued (or given up) and the dead ones dead-lettered.
func (s *Service) next(ctx context.Context, job *events.Job, attempts int, now time.Time, a answers) consumer.Verdict {
	if len(a.limited) > 0 {
		// Re-queued with the attempts they had before this delivery.
		if err := s.requeue(ctx, job, a.limited, attempts-1, a.limitedAfter, "rate_limited"); err != nil {
			return consumer.RetryAfter(0, "publish", "re-queue failed: "+err.Error())
		}
	}
	switch {
	case len(a.retry) == a.total:
		return s.retryJob(ctx, job, attempts, now, a)
	case len(a.retry) > 0:
		switch v := s.retryTokens(ctx, job, attempts, a); v.Action {
		case consumer.Retry:
			return v
		case consumer.Dead:
			// Tokens out of attempts and tokens the provider refused for
			// good end in one dead letter: each needs its reason there.
			if len(a.dead) > 0 {
				v.Tokens = append(v.Tokens, tokensAt(job, a.dead)...)
				v.Reason += "; permanent for the others: " + a.deadReason
			}
			return v
		}
	}
	if len(a.dead) > 0 {
		return s.dead(job, a.dead, "permanent", a.deadReason)
	}
	return consumer.Done()
}

// retryJob is the verdict of a job whose every token is to be retried: the
// message itself is redelivered, unless its attempts are spent (dead) or
// its notification expires before the next try (expired). Of a coalesced
// job whose notifications expire apart, those that would be expired by the
// next try are reported expired now and the others re-queued.
func (s *Service) retryJob(ctx context.Context, job *events.Job, attempts int, now time.Time, a answers) consumer.Verdict {
	if attempts >= s.cfg.MaxAttempts {
		return s.giveUp(ctx, job, a.retry, attempts, a.retryReason)
	}
	if a.retryAfter > 0 {
		next := now.Add(a.retryAfter)
		if job.Expired(next) {
			return s.expire(ctx, job, a.retry, "expires before its next try")
		}
		if job.Coalesced() && expiringBy(job, a.retry, next) {
			return s.retryTokens(ctx, job, attempts, a)
		}
	}
	return consumer.RetryAfter(a.retryAfter, category(a.credReason), a.retryReason)
}

// expiringBy reports whether any of the tokens at idx expires by t.
func expiringBy(job *events.Job, idx []int, t time.Time) bool {
	for _, i := range idx {
		if job.ExpiresBy(i, t) {
			return true
		}
	}
	return false
}

// tokensAt returns the tokens at positions idx.
func tokensAt(job *events.Job, idx []int) []string {
	out := make([]string, len(idx))
	for n, i := range idx {
		out[n] = job.Tokens[i]
	}
	return out
}

// retryTokens re-queues the tokens to retry of a job settled in part, or
// gives up on them once the job's attempts are spent. Ack means done: the
// rest of the job is settled next.
func (s *Service) retryTokens(ctx context.Context, job *events.Job, attempts int, a answers) consumer.Verdict {
	if attempts >= s.cfg.MaxAttempts {
		return s.giveUp(ctx, job, a.retry, attempts, a.retryReason)
	}
	if err := s.requeue(ctx, job, a.retry, attempts, a.retryAfter, category(a.credReason)); err != nil {
		return consumer.RetryAfter(0, "publish", "re-queue failed: "+err.Error())
	}
	return consumer.Done()
}
