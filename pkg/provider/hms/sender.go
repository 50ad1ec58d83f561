package hms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/httpclient"
)

// maxAnswerBytes bounds how much of an answer is read.
const maxAnswerBytes = 1 << 20

// Sender delivers jobs to Huawei Push Kit for any number of apps. It is
// safe for concurrent use: concurrent Sends share the connections.
type Sender struct {
	cfg         Config
	log         *slog.Logger
	transport   *http.Transport
	tokenClient *http.Client
	slots       chan struct{} // semaphore: push requests in flight

	apps     atomic.Pointer[map[string]*app]
	updateMu sync.Mutex // serialises UpdateApps

	closeMu sync.RWMutex
	closed  bool
	sends   sync.WaitGroup
	// refreshes are the token requests running; only sends start them,
	// and stop ends them.
	refreshes sync.WaitGroup
	base      context.Context
	stop      context.CancelFunc
}

var _ provider.Sender = (*Sender)(nil)
var _ provider.Closer = (*Sender)(nil)

// New validates cfg and apps, applies the defaults and returns a Sender.
// Connections and access tokens are made on first use.
func New(cfg Config, apps map[string]AppConfig) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	tr := httpclient.Transport(httpclient.TransportConfig{
		Platform: platform, RootCAs: cfg.RootCAs, MaxConnsPerHost: cfg.MaxConnsPerHost, Metrics: cfg.Metrics,
	})
	s := &Sender{
		cfg: cfg, log: cfg.Logger, transport: tr,
		tokenClient: &http.Client{Transport: tr, Timeout: cfg.TokenTimeout},
		slots:       make(chan struct{}, cfg.MaxInFlight),
	}
	s.base, s.stop = context.WithCancel(context.Background())
	if err := s.UpdateApps(apps); err != nil {
		s.stop()
		tr.CloseIdleConnections()
		return nil, err
	}
	return s, nil
}

// Close waits for the sends in flight (each bounded by its context and
// RequestTimeout) and the token requests they started (TokenTimeout), and
// closes idle connections. Later sends return Retry.
func (s *Sender) Close() error {
	s.closeMu.Lock()
	s.closed = true
	s.closeMu.Unlock()
	s.sends.Wait()
	s.stop()
	s.refreshes.Wait()
	s.transport.CloseIdleConnections()
	return nil
}

func (s *Sender) begin() bool {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return false
	}
	s.sends.Add(1)
	return true
}

// Send delivers job: one request per Config.BatchSize tokens, all in
// flight at once (within MaxInFlight), each answer mapped as it arrives.
// It returns one result per token, in the job's order.
func (s *Sender) Send(ctx context.Context, job *events.Job) []provider.Result {
	if !s.begin() {
		return provider.All(job.Tokens, provider.Retry, "sender closed",
			fmt.Errorf("hms: %w: %w: sender closed", provider.ErrUnavailable, provider.ErrNotSent))
	}
	defer s.sends.Done()
	a := s.snapshot()[job.App]
	if a == nil {
		return provider.All(job.Tokens, provider.Permanent, "unknown app", fmt.Errorf("hms: %w: %q", provider.ErrUnknownApp, job.App))
	}
	if len(job.Tokens) == 0 {
		return []provider.Result{}
	}
	if job.Expired(time.Now()) {
		rs := make([]provider.Result, len(job.Tokens))
		for i, t := range job.Tokens {
			rs[i] = provider.ExpiredResult(t, *job.Notification.Expiry)
		}
		return rs
	}
	t, err := buildTemplate(&job.Notification)
	if err != nil {
		return provider.All(job.Tokens, provider.Permanent, "bad message", err)
	}
	if n := t.size(s.cfg.MaxTTL); s.cfg.MaxMessageBytes > 0 && n > s.cfg.MaxMessageBytes {
		return provider.All(job.Tokens, provider.Permanent, "payload too large",
			fmt.Errorf("hms: %w: message of %d bytes exceeds %d", provider.ErrPayloadTooLarge, n, s.cfg.MaxMessageBytes))
	}
	results := make([]provider.Result, len(job.Tokens))
	send, res := job.Tokens, results
	var idx []int
	if slices.Contains(job.Tokens, "") {
		// An empty token is no device: refused here, never sent.
		send, idx = provider.NonEmpty(job.Tokens)
		res = make([]provider.Result, len(send))
		fill(results, provider.Result{Kind: provider.Permanent, Reason: "empty token",
			Err: fmt.Errorf("hms: %w: empty token", provider.ErrBadMessage)})
	}
	switch {
	case len(send) == 0:
	case len(send) <= s.cfg.BatchSize:
		s.sendBatch(ctx, a, t, send, res)
	default:
		var wg sync.WaitGroup
		for lo := 0; lo < len(send); lo += s.cfg.BatchSize {
			hi := min(lo+s.cfg.BatchSize, len(send))
			wg.Go(func() { s.sendBatch(ctx, a, t, send[lo:hi], res[lo:hi]) })
		}
		wg.Wait()
	}
	for j, i := range idx {
		results[i] = res[j]
	}
	for i := range results {
		results[i].Token = job.Tokens[i]
	}
	return results
}

// sendBatch makes one request for tokens (and one more after refreshing a
// refused access token) and writes one result per token into out. The
// expiry is checked right before each request, after the waits for a slot
// and a token: past it, every token is Expired and nothing is sent.
func (s *Sender) sendBatch(ctx context.Context, a *app, t *template, tokens []string, out []provider.Result) {
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		fill(out, notSent(ctx, "waiting for a request slot"))
		return
	}
	for attempt := 0; ; attempt++ {
		tok, err := a.tokens.token(ctx)
		if err != nil {
			r := tokenResult(ctx, err)
			if r.Kind == provider.CredentialError {
				s.cfg.Metrics.CountCredentialError(platform, a.name)
				s.log.Error("hms token endpoint rejected the app's client credentials", "app", a.name,
					"app_id", a.creds.appID, "client_id", a.creds.clientID, "reason", r.Reason, "err", err)
			}
			fill(out, r)
			return
		}
		now := time.Now()
		switch {
		case ctx.Err() != nil:
			fill(out, notSent(ctx, "context ended before the request"))
			return
		case !t.expiry.IsZero() && !t.expiry.After(now):
			for i, tk := range tokens {
				out[i] = provider.ExpiredResult(tk, t.expiry)
			}
			return
		}
		body, err := t.body(tokens, now, s.cfg.MaxTTL)
		if err != nil {
			fill(out, provider.Result{Kind: provider.Permanent, Reason: "bad message", Err: fmt.Errorf("hms: %w: %v", provider.ErrBadMessage, err)})
			return
		}
		start := time.Now()
		status, header, answerBody, err := s.post(ctx, a.sendURL, tok, body)
		answered := time.Now()
		if err != nil {
			r := transportResult(ctx, err)
			r.AnsweredAt = answered
			s.cfg.Metrics.ObserveRequest(platform, a.name, provider.Retry, answered.Sub(start))
			fill(out, r)
			s.log.Debug("hms request failed", "app", a.name, "err", err)
			return
		}
		ans := readAnswer(status, header, answerBody, answered)
		v := classify(ans)
		if v.refresh && attempt == 0 {
			// 80200003 (expired) or 80200001: a new token, then once more.
			s.cfg.Metrics.ObserveRequest(platform, a.name, provider.Retry, answered.Sub(start))
			a.tokens.invalidate(tok)
			s.log.Info("hms refused the access token, renewing it", "app", a.name, "code", ans.code, "http", status)
			continue
		}
		s.apply(a, ans, v, tokens, out, answered)
		s.cfg.Metrics.ObserveRequest(platform, a.name, requestKind(v, out), answered.Sub(start))
		return
	}
}

// apply writes the results of one answered request.
func (s *Sender) apply(a *app, ans answer, v verdict, tokens []string, out []provider.Result, answered time.Time) {
	if v.rateLimited {
		wait := a.limit.limited(func(d time.Duration) time.Duration { return rand.N(d) })
		if v.retryAfter <= 0 {
			v.retryAfter = wait
		}
	} else {
		a.limit.answered()
	}
	if v.kind == 0 { // (partial) success
		if v.unreadable {
			// The failed tokens are unknown: retrying would push again to
			// the ones that got it, and cannot help the others.
			s.log.Warn("hms partial success with an unreadable token list: all counted delivered",
				"app", a.name, "msg", ans.msg, "request_id", ans.requestID)
		}
		var badErr error
		if len(v.illegal) > 0 {
			badErr = &Error{Code: ans.code, HTTPStatus: ans.status, RequestID: ans.requestID, sentinel: provider.ErrInvalidToken}
			s.log.Debug("hms illegal tokens", "app", a.name, "count", len(v.illegal), "of", len(tokens))
		}
		for i, tk := range tokens {
			if reason, bad := v.illegal[tk]; bad {
				out[i] = provider.Result{Token: tk, Kind: provider.InvalidToken, Reason: reason, Err: badErr, AnsweredAt: answered}
				continue
			}
			out[i] = provider.Result{Token: tk, Kind: provider.Delivered, AnsweredAt: answered}
		}
		return
	}
	e := &Error{Code: ans.code, HTTPStatus: ans.status, Msg: ans.msg, RequestID: ans.requestID, sentinel: v.sentinel}
	r := provider.Result{Kind: v.kind, Reason: v.reason, Err: e, AnsweredAt: answered}
	if v.kind == provider.Retry {
		r.RetryAfter = v.retryAfter
	}
	fill(out, r)
	if v.kind == provider.CredentialError {
		s.log.Error("hms rejected the app's credentials or configuration", "app", a.name, "app_id", a.creds.appID,
			"code", ans.code, "http", ans.status, "msg", ans.msg, "request_id", ans.requestID)
	}
}

// requestKind is the kind a request is recorded under in the metrics.
func requestKind(v verdict, out []provider.Result) provider.Kind {
	if v.kind != 0 {
		return v.kind
	}
	for _, r := range out {
		if r.Kind == provider.Delivered {
			return provider.Delivered
		}
	}
	return provider.InvalidToken
}

// post sends one push request and reads the whole answer.
func (s *Sender) post(ctx context.Context, url, tok string, body []byte) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header["Content-Type"] = []string{"application/json;charset=utf-8"}
	req.Header["Authorization"] = []string{"Bearer " + tok}
	s.cfg.Metrics.AddInFlight(platform, 1)
	defer s.cfg.Metrics.AddInFlight(platform, -1)
	return httpclient.RoundTrip(s.transport, req, maxAnswerBytes)
}

// transportResult is the result of a request that got no answer: always
// Retry, since Push Kit may or may not have acted.
func transportResult(ctx context.Context, err error) provider.Result {
	reason := "transport"
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		reason = "timeout"
		if errors.Is(ctx.Err(), context.Canceled) {
			reason = "canceled"
		}
	}
	return provider.Result{Kind: provider.Retry, Reason: reason, Err: &Error{sentinel: provider.ErrUnavailable, cause: err}}
}

// notSent is the result of a token held back before its request.
func notSent(ctx context.Context, why string) provider.Result {
	return provider.Result{Kind: provider.Retry, Reason: why,
		Err: fmt.Errorf("hms: %w: %w: %s: %w", provider.ErrUnavailable, provider.ErrNotSent, why, context.Cause(ctx))}
}

func fill(out []provider.Result, r provider.Result) {
	for i := range out {
		out[i] = r
	}
}
