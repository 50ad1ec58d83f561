package fcm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"firebase.google.com/go/v4/messaging"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

// sendBatch sends up to MaxBatch tokens with one SendEach call and writes
// their results to out, in order.
func (s *Sender) sendBatch(ctx context.Context, a *app, tmpl *messaging.Message, tokens []string, out []provider.Result) {
	// An empty token would make the SDK reject the whole batch.
	send, idx := tokens, []int(nil)
	if slices.Contains(tokens, "") {
		send, idx = nonEmpty(tokens)
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
	if len(send) == 0 || !s.admit(ctx, a, len(send), res) {
		return
	}
	defer func() { <-s.batches }()
	bctx, cancel := context.WithTimeout(ctx, s.cfg.BatchTimeout)
	defer cancel()
	start := time.Now()
	if err := a.creds.ensure(bctx); err != nil {
		r := classifyTokenError(err)
		if ctx.Err() != nil {
			r = contextResult(ctx)
		}
		fill(res, r)
		s.noteCredentials(a, r)
		s.observe(a, res, time.Since(start))
		return
	}
	br, err := a.client.SendEach(bctx, messagesFor(tmpl, send))
	if err != nil {
		// SendEach fails as a whole only when the SDK's own validation
		// rejects a message before anything is sent.
		fill(res, provider.Result{Kind: provider.Permanent, Reason: "invalid message: " + err.Error(), Err: fmt.Errorf("%w: %v", provider.ErrBadMessage, err)})
	} else {
		s.collect(bctx, a, br, send, res)
	}
	s.observe(a, res, time.Since(start))
}

// admit passes the project's hold and rate limit and takes a batch slot.
// When it returns false, res holds Retry results; when true, the caller
// must release the slot.
func (s *Sender) admit(ctx context.Context, a *app, n int, res []provider.Result) bool {
	now := time.Now()
	if d := a.gate.held(now); d > 0 {
		fill(res, provider.Result{Kind: provider.Retry, Reason: "QUOTA_EXCEEDED", RetryAfter: d,
			Err: fmt.Errorf("%w: project %s held for %v after QUOTA_EXCEEDED", provider.ErrRateLimited, a.conf.ProjectID, d.Round(time.Millisecond))})
		return false
	}
	maxWait := s.cfg.BatchTimeout
	if dl, ok := ctx.Deadline(); ok {
		maxWait = time.Until(dl)
	}
	wait, ok := a.gate.reserve(now, n, maxWait)
	if !ok {
		fill(res, provider.Result{Kind: provider.Retry, Reason: "local rate limit", RetryAfter: wait,
			Err: fmt.Errorf("%w: project %s rate limit needs %v", provider.ErrRateLimited, a.conf.ProjectID, wait.Round(time.Millisecond))})
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

// collect classifies SendEach's per-message answers and reacts to the
// project-wide ones: QUOTA_EXCEEDED holds the project, a refused access
// token is dropped so the next batch fetches a new one.
func (s *Sender) collect(ctx context.Context, a *app, br *messaging.BatchResponse, tokens []string, res []provider.Result) {
	now := time.Now()
	var hold time.Duration
	var cred provider.Result
	debug := s.log.Enabled(ctx, slog.LevelDebug)
	for i, r := range br.Responses {
		if r.Success {
			res[i] = provider.Result{Kind: provider.Delivered, AnsweredAt: now}
			continue
		}
		c := classify(ctx, r.Error, now)
		c.AnsweredAt = now
		if errors.Is(c.Err, provider.ErrRateLimited) {
			if c.RetryAfter <= 0 {
				c.RetryAfter = s.cfg.QuotaRetryAfter
			}
			hold = max(hold, c.RetryAfter)
		}
		if c.Kind == provider.CredentialError {
			cred = c
		}
		res[i] = c
		if debug {
			s.log.Debug("fcm answer", "app", a.name, "token_ref", tokenRef(tokens[i]), "kind", c.Kind.String(), "reason", c.Reason)
		}
	}
	if hold > 0 {
		a.gate.slowDown(now, hold)
		s.log.Warn("fcm quota exceeded, holding project", "app", a.name, "project", a.conf.ProjectID, "retry_after", hold)
	}
	if cred.Kind != 0 {
		if cred.Reason == "UNAUTHENTICATED" {
			a.creds.reset()
		}
		s.noteCredentials(a, cred)
	}
}

// noteCredentials logs a credential error; it needs an operator.
func (s *Sender) noteCredentials(a *app, r provider.Result) {
	if r.Kind != provider.CredentialError {
		return
	}
	s.log.Error("fcm rejected the app's credentials", "app", a.name, "project", a.conf.ProjectID,
		"client_email", a.sa.email, "reason", r.Reason, "err", r.Err)
}

// observe records the batch duration once per result kind in the batch.
func (s *Sender) observe(a *app, res []provider.Result, d time.Duration) {
	if s.cfg.Metrics == nil {
		return
	}
	var seen [provider.CredentialError + 1]bool
	for _, r := range res {
		if r.Kind > 0 && r.Kind <= provider.CredentialError && !seen[r.Kind] {
			seen[r.Kind] = true
			s.cfg.Metrics.ObserveRequest(platform, a.name, r.Kind, d)
		}
	}
}

// nonEmpty returns the non-empty tokens and their indexes.
func nonEmpty(tokens []string) ([]string, []int) {
	send := make([]string, 0, len(tokens))
	idx := make([]int, 0, len(tokens))
	for i, t := range tokens {
		if t != "" {
			send = append(send, t)
			idx = append(idx, i)
		}
	}
	return send, idx
}

// tokenRef names a token in logs without revealing it.
func tokenRef(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:6])
}
