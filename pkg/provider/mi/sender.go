package mi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Sender delivers jobs to MiPush for any number of apps. It is safe for
// concurrent use: concurrent Sends share the connections.
type Sender struct {
	cfg    Config
	log    *slog.Logger
	apps   atomic.Pointer[map[string]*app]
	update sync.Mutex // serialises UpdateApps
	dialer *dialer
	pool   *pool
	limit  limiter
}

var _ provider.Sender = (*Sender)(nil)
var _ provider.Closer = (*Sender)(nil)

// New validates cfg and apps, applies the defaults and returns a Sender.
// Connections are opened on first use.
func New(cfg Config, apps map[string]AppConfig) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Sender{cfg: cfg, log: cfg.Logger, limit: limiter{size: cfg.MaxInFlightPerHost}}
	resolved, err := s.resolveApps(apps)
	if err != nil {
		return nil, err
	}
	s.apps.Store(&resolved)
	s.dialer = newDialer(cfg.BackoffMin, cfg.BackoffMax, cfg.Metrics, cfg.Logger)
	s.pool = newPool(&s.cfg, s.dialer)
	return s, nil
}

func (s *Sender) resolveApps(apps map[string]AppConfig) (map[string]*app, error) {
	out := make(map[string]*app, len(apps))
	for name, ac := range apps {
		if !events.ValidApp(name) {
			return nil, fmt.Errorf("mi app %q: invalid app name", name)
		}
		a, err := s.cfg.resolveApp(name, ac)
		if err != nil {
			return nil, err
		}
		out[name] = a
	}
	return out, nil
}

// UpdateApps replaces the app set: new apps are added, changed secrets or
// packages take effect for the next request, missing apps are removed.
// Requests in flight finish with the settings they started with, and the
// connections (shared by all apps) are kept. On error nothing changes.
func (s *Sender) UpdateApps(apps map[string]AppConfig) error {
	next, err := s.resolveApps(apps)
	if err != nil {
		return err
	}
	s.update.Lock()
	defer s.update.Unlock()
	prev := *s.apps.Swap(&next)
	var added, changed, removed int
	for name, a := range next {
		switch p, ok := prev[name]; {
		case !ok:
			added++
		case *p != *a:
			changed++
		}
	}
	for name := range prev {
		if _, ok := next[name]; !ok {
			removed++
		}
	}
	s.log.Info("mi apps updated", "apps", len(next), "added", added, "changed", changed, "removed", removed)
	return nil
}

// Apps lists the configured app names, sorted.
func (s *Sender) Apps() []string {
	return slices.Sorted(maps.Keys(*s.apps.Load()))
}

// Close stops new requests (they get Retry results) and closes the
// connections once the requests in flight have finished. It does not wait.
func (s *Sender) Close() error {
	s.pool.close()
	return nil
}

// Send delivers job to its regids: one request per Config.BatchSize
// tokens, all in flight at once, each answer mapped as it arrives. It
// returns one result per token, in the job's order.
func (s *Sender) Send(ctx context.Context, job *events.Job) []provider.Result {
	a, err := s.lookup(job.App)
	if err != nil {
		return provider.All(job.Tokens, provider.Permanent, "unknown app", err)
	}
	if len(job.Tokens) == 0 {
		return []provider.Result{}
	}
	var o *events.MiOverrides
	if job.Overrides != nil {
		o = job.Overrides.Mi
	}
	m, err := BuildMessage(&job.Notification, o, a.pkg, time.Now())
	switch {
	case errors.Is(err, ErrExpired):
		return provider.All(job.Tokens, provider.Expired, "expired", err)
	case err != nil:
		return provider.All(job.Tokens, provider.Permanent, "bad message", err)
	case s.cfg.MaxContentBytes > 0 && m.ContentBytes() > s.cfg.MaxContentBytes:
		err := fmt.Errorf("mi: %w: %d content bytes exceed %d", provider.ErrPayloadTooLarge, m.ContentBytes(), s.cfg.MaxContentBytes)
		return provider.All(job.Tokens, provider.Permanent, "payload too large", err)
	}
	results := make([]provider.Result, len(job.Tokens))
	if topics := job.TopicsByKey(); topics != nil {
		s.sendTopics(ctx, a, m, job.Tokens, topics, results)
		return results
	}
	if len(job.Tokens) <= s.cfg.BatchSize {
		s.sendBatch(ctx, a, m, job.Tokens, results)
		return results
	}
	var wg sync.WaitGroup
	for start := 0; start < len(job.Tokens); start += s.cfg.BatchSize {
		end := min(start+s.cfg.BatchSize, len(job.Tokens))
		wg.Go(func() { s.sendBatch(ctx, a, m, job.Tokens[start:end], results[start:end]) })
	}
	wg.Wait()
	return results
}

// sendBatch sends one request and writes one result per token into out.
// The expiry is checked right before the request (after any wait for a
// slot): past it, every token is Expired and nothing is sent.
func (s *Sender) sendBatch(ctx context.Context, a *app, m Message, tokens []string, out []provider.Result) {
	resp, err := s.do(ctx, a, pushRequest(a.host+PathRegID, m, "registration_id", tokens, false))
	answered := time.Now()
	if err != nil {
		var e *Error
		if !errors.As(err, &e) { // do returns *Error only; be safe anyway
			e = &Error{Kind: provider.Retry, Reason: "transport", sentinel: provider.ErrUnavailable, cause: err}
		}
		for i, t := range tokens {
			out[i] = e.result(t)
			if e.Kind != provider.Expired && !errors.Is(e, provider.ErrNotSent) {
				out[i].AnsweredAt = answered
			}
		}
		return
	}
	var bad map[string]bool
	var badErr error
	if len(resp.Data.BadRegIDs) > 0 {
		bad = make(map[string]bool, len(resp.Data.BadRegIDs))
		for _, r := range resp.Data.BadRegIDs {
			bad[r] = true
		}
		badErr = fmt.Errorf("mi: %w: listed in bad_regids of message %s", provider.ErrInvalidToken, resp.Data.ID)
		s.log.Debug("mi bad regids", "app", a.name, "count", len(resp.Data.BadRegIDs), "of", len(tokens))
	}
	for i, t := range tokens {
		if bad[t] {
			out[i] = provider.Result{Token: t, Kind: provider.InvalidToken, Reason: "bad_regids", Err: badErr, AnsweredAt: answered}
			continue
		}
		out[i] = provider.Result{Token: t, Kind: provider.Delivered, AnsweredAt: answered}
	}
}

// sendTopics sends a topic job: one request per topic key (a topic, or the
// all-devices broadcast), all in flight at once. A topic is no device: an
// answer that would invalidate a token (20301 "No valid targets!") is a
// Permanent result for the request, never an InvalidToken.
func (s *Sender) sendTopics(ctx context.Context, a *app, m Message, keys []string, topics map[string]events.Topic, out []provider.Result) {
	var wg sync.WaitGroup
	for i, key := range keys {
		tp, ok := topics[key]
		if !ok {
			out[i] = provider.Result{Token: key, Kind: provider.Permanent, Reason: "unknown topic key",
				Err: fmt.Errorf("mi: %w: %q names none of the job's topics", provider.ErrBadMessage, key)}
			continue
		}
		req := pushRequest(a.host+PathTopic, m, "topic", []string{tp.Topic}, true)
		if tp.All {
			req = pushRequest(a.host+PathAll, m, "", nil, true)
		}
		wg.Go(func() { out[i] = s.sendTopic(ctx, a, req, key) })
	}
	wg.Wait()
}

func (s *Sender) sendTopic(ctx context.Context, a *app, req request, key string) provider.Result {
	resp, err := s.do(ctx, a, req)
	answered := time.Now()
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = &Error{Kind: provider.Retry, Reason: "transport", sentinel: provider.ErrUnavailable, cause: err}
		}
		r := e.result(key)
		if r.Kind == provider.InvalidToken || r.Kind == provider.TokenReplaced {
			r.Kind = provider.Permanent
			r.Err = fmt.Errorf("mi: %w: topic send refused: %v", provider.ErrBadMessage, e)
		}
		if e.Kind != provider.Expired && !errors.Is(e, provider.ErrNotSent) {
			r.AnsweredAt = answered
		}
		return r
	}
	s.log.Debug("mi topic send", "app", a.name, "target", key, "message_id", resp.Data.ID)
	return provider.Result{Token: key, Kind: provider.Delivered, AnsweredAt: answered}
}
