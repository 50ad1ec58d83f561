package apns

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Send pushes job to every token concurrently, one HTTP/2 request per token
// made by the pool's workers, and returns one Result per token in the job's
// order. Tokens still waiting for a worker or an answer when ctx ends get
// Retry (those never sent match provider.ErrNotSent). The worker checks the
// notification's expiry right before each request: a token whose turn comes
// after it is Expired and never sent, however long the queue was.
func (s *Sender) Send(ctx context.Context, job *events.Job) []provider.Result {
	a, ok := s.state.Load().apps[job.App]
	if !ok {
		return provider.All(job.Tokens, provider.Permanent, "unknown app",
			fmt.Errorf("%w: apns has no app %q", provider.ErrUnknownApp, job.App))
	}
	if len(job.Topics) > 0 {
		// APNs has no topics (intake refuses them): never send a topic key
		// as a device token, whose BadDeviceToken would read as a dead token.
		return provider.All(job.Tokens, provider.Permanent, "APNs has no topics",
			fmt.Errorf("%w: a topic job for APNs", provider.ErrBadMessage))
	}
	now := time.Now()
	msg, err := buildMessage(job, a.topic, now)
	if err == nil && msg.expired(now) {
		rs := make([]provider.Result, len(job.Tokens))
		for i, tok := range job.Tokens {
			rs[i] = provider.ExpiredResult(tok, msg.expiry)
		}
		return rs
	}
	if err != nil {
		return provider.Rejected(job.Tokens, err)
	}
	results := make([]provider.Result, len(job.Tokens))
	var wg sync.WaitGroup
	for i, tok := range job.Tokens {
		if !isHexToken(tok) {
			results[i] = provider.Result{Token: tok, Kind: provider.InvalidToken, Reason: reasonBadDeviceToken,
				Err: fmt.Errorf("%w: not a hexadecimal APNs device token (not sent)", provider.ErrInvalidToken)}
			continue
		}
		wg.Add(1)
		err := a.pool.submit(ctx, func() {
			defer wg.Done()
			results[i] = s.push(ctx, a, msg, tok)
		})
		if err != nil {
			results[i] = provider.NotSent(tok, err)
			wg.Done()
		}
	}
	wg.Wait()
	s.logCredentialErrors(a, results)
	return results
}

// push sends m to one token over a's pool.
func (s *Sender) push(ctx context.Context, a *app, m *message, token string) provider.Result {
	if err := ctx.Err(); err != nil {
		return provider.NotSent(token, err)
	}
	if m.expired(time.Now()) {
		return provider.ExpiredResult(token, m.expiry)
	}
	c, err := a.pool.acquire()
	if err != nil {
		return provider.NotSent(token, err)
	}
	defer a.pool.release(c)

	rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	capt := &capture{}
	s.cfg.Metrics.AddInFlight(platform, 1)
	start := time.Now()
	resp, err := c.client.PushWithContext(withCapture(rctx, capt), m.notification(token))
	elapsed := time.Since(start)
	s.cfg.Metrics.AddInFlight(platform, -1)

	r := classify(token, resp, err, capt)
	r.AnsweredAt = start.Add(elapsed)
	if r.Kind == provider.CredentialError && r.Reason == reasonExpiredProviderToken && a.signer != nil {
		s.renewOnExpired(a, &r, capt)
	}
	s.cfg.Metrics.ObserveRequest(platform, a.name, r.Kind, elapsed)
	return r
}

// renewOnExpired renews the app's JWT after ExpiredProviderToken (at most
// once per JWTRenewInterval per key) and makes the result Retry when the
// next attempt can succeed. A JWT minted moments ago that APNs still calls
// expired (clock skew) stays a CredentialError.
func (s *Sender) renewOnExpired(a *app, r *provider.Result, c *capture) {
	switch a.signer.renewExpired(c.authorization, time.Now()) {
	case renewed:
		s.log.Info("apns JWT renewed after ExpiredProviderToken", "app", a.name, "pool", a.pool.label)
		r.Kind = provider.Retry
	case superseded:
		r.Kind = provider.Retry
	case refused:
		s.log.Warn("apns rejects a fresh JWT as expired; not renewing again so soon (check the clock)",
			"app", a.name, "pool", a.pool.label)
	}
}

// logCredentialErrors logs one line per job whose credentials were rejected.
func (s *Sender) logCredentialErrors(a *app, rs []provider.Result) {
	n, first := provider.CountKind(rs, provider.CredentialError)
	if n > 0 {
		s.log.Warn("apns rejected the app's credentials", "app", a.name, "pool", a.pool.label,
			"reason", rs[first].Reason, "tokens", n, "first_token", tokenRef(rs[first].Token))
	}
}

// isHexToken reports whether t can be an APNs device token: non-empty hex.
func isHexToken(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// tokenRef is a short, non-reversible name of a device token for logs.
func tokenRef(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:4])
}
