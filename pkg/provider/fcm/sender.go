package fcm

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/httpclient"
)

// Sender delivers FCM jobs through the Firebase Admin SDK. It is safe for
// concurrent use.
type Sender struct {
	cfg         Config
	log         *slog.Logger
	transport   *http.Transport
	tokenClient *http.Client
	batches     chan struct{} // semaphore: batches in flight

	apps      atomic.Pointer[map[string]*app]
	updateMu  sync.Mutex // serialises UpdateApps; guards gates
	gates     map[string]*projectGate
	gateRates map[string]int

	closeMu sync.RWMutex
	closed  bool
	sends   sync.WaitGroup
}

var _ provider.Sender = (*Sender)(nil)
var _ provider.Closer = (*Sender)(nil)

// New validates cfg, applies its defaults and configures apps.
func New(cfg Config, apps map[string]AppConfig) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	tr := httpclient.Transport(httpclient.TransportConfig{
		Platform: platform, RootCAs: cfg.RootCAs, MaxConnsPerHost: cfg.MaxConnsPerHost, Metrics: cfg.Metrics,
	})
	// The caller's logger names the component (internal/providers sets
	// it); naming it again here wrote the JSON key twice.
	s := &Sender{
		cfg:         cfg,
		log:         cfg.Logger.With("platform", platform),
		transport:   tr,
		tokenClient: &http.Client{Transport: tr, Timeout: cfg.TokenTimeout},
		batches:     make(chan struct{}, cfg.MaxConcurrentBatches),
		gates:       map[string]*projectGate{},
		gateRates:   map[string]int{},
	}
	if err := s.UpdateApps(apps); err != nil {
		tr.CloseIdleConnections()
		return nil, err
	}
	return s, nil
}

// Send delivers job and returns one result per token, in order.
func (s *Sender) Send(ctx context.Context, job *events.Job) []provider.Result {
	if !s.begin() {
		return provider.All(job.Tokens, provider.Retry, "sender closed", fmt.Errorf("%w: %w: sender closed", provider.ErrUnavailable, provider.ErrNotSent))
	}
	defer s.sends.Done()
	a := s.snapshot()[job.App]
	if a == nil {
		return provider.All(job.Tokens, provider.Permanent, "unknown app", fmt.Errorf("%w: %q", provider.ErrUnknownApp, job.App))
	}
	now := time.Now()
	if job.Expired(now) {
		return expiredAll(job)
	}
	tmpl, err := buildTemplate(job, now, maxPayload(job, s.cfg.MaxPayloadBytes))
	if err != nil {
		return resultsFor(job.Tokens, err)
	}
	b := batch{a: a, tmpl: tmpl, topics: job.TopicsByKey()}
	if job.Notification.Expiry != nil {
		b.expiry = *job.Notification.Expiry
	}
	results := make([]provider.Result, len(job.Tokens))
	for lo := 0; lo < len(job.Tokens); lo += MaxBatch {
		hi := min(lo+MaxBatch, len(job.Tokens))
		s.sendBatch(ctx, b, job.Tokens[lo:hi], results[lo:hi])
	}
	for i := range results {
		results[i].Token = job.Tokens[i]
	}
	return results
}

// maxPayload is the payload limit of job's messages: limit, and at most
// FCM's 2048 bytes when the job sends to a topic (conditions and tokens
// take 4096).
func maxPayload(job *events.Job, limit int) int {
	for _, t := range job.Topics {
		if t.Topic != "" {
			return min(limit, events.FCMMaxTopicPayload)
		}
	}
	return limit
}

// begin registers a send unless the sender is closed.
func (s *Sender) begin() bool {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return false
	}
	s.sends.Add(1)
	return true
}

// Close waits for sends in flight (each bounded by its context and
// BatchTimeout) and closes idle connections. Later sends return Retry.
func (s *Sender) Close() error {
	s.closeMu.Lock()
	s.closed = true
	s.closeMu.Unlock()
	s.sends.Wait()
	s.transport.CloseIdleConnections()
	return nil
}

// fill sets every result of out to r.
func fill(out []provider.Result, r provider.Result) {
	for i := range out {
		out[i] = r
	}
}

// contextResult is the result of a token not sent because ctx ended first.
func contextResult(ctx context.Context) provider.Result {
	return provider.Result{Kind: provider.Retry, Reason: reasonContext,
		Err: fmt.Errorf("%w: %w: %w", provider.ErrUnavailable, provider.ErrNotSent, ctx.Err())}
}

func expiredAll(job *events.Job) []provider.Result {
	rs := make([]provider.Result, len(job.Tokens))
	for i, t := range job.Tokens {
		rs[i] = provider.ExpiredResult(t, *job.Notification.Expiry)
	}
	return rs
}
