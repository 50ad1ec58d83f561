package webpush

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Platform is this provider's platform name (metrics label, subject token
// once the fleet lists it: see docs/providers-webpush.md).
const Platform = string(events.WebPush)

// ErrClosed is returned by UpdateApps after Close.
var ErrClosed = errors.New("webpush: sender closed")

// Sender delivers jobs to browsers' push services for every configured
// app. It implements provider.Sender and provider.Closer and is safe for
// concurrent use.
type Sender struct {
	cfg        Config
	log        *slog.Logger
	client     *http.Client
	transport  *http.Transport
	slots      chan struct{}
	maxPayload int

	mu     sync.Mutex // serialises UpdateApps and Close
	closed bool
	done   context.Context // ends when the sender closes
	stop   context.CancelFunc
	apps   atomic.Pointer[map[string]*app]
}

// app is one configured app's VAPID identity.
type app struct {
	name   string
	signer *signer
}

var _ interface {
	provider.Sender
	provider.Closer
} = (*Sender)(nil)

// New validates cfg and apps and returns a Sender. Connections are opened
// on first use, one pool per push service host shared by every app.
func New(cfg Config, apps map[string]AppConfig) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   cfg.DialTimeout,
		ForceAttemptHTTP2:     true, // HTTP/2 when the push service offers it (all the big ones do)
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   64, // HTTP/1.1 services: keep what a burst opened
		MaxConnsPerHost:       cfg.MaxConnsPerHost,
		IdleConnTimeout:       cfg.IdleConnTimeout,
		ExpectContinueTimeout: time.Second,
		HTTP2: &http.HTTP2Config{
			SendPingTimeout: 3 * cfg.PingTimeout,
			PingTimeout:     cfg.PingTimeout,
		},
	}
	done, stop := context.WithCancel(context.Background())
	s := &Sender{
		cfg: cfg, log: cfg.Logger, transport: tr,
		client: &http.Client{
			Transport: tr,
			// A push endpoint never redirects; following one would send the
			// VAPID JWT (aud: the first origin) elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		slots:      make(chan struct{}, cfg.MaxInFlight),
		maxPayload: MaxPayload(cfg.RecordSize),
		done:       done, stop: stop,
	}
	empty := map[string]*app{}
	s.apps.Store(&empty)
	if err := s.UpdateApps(apps); err != nil {
		stop()
		return nil, err
	}
	return s, nil
}

// UpdateApps replaces the app set without a restart: added apps become
// usable, removed ones answer ErrUnknownApp, and changed keys apply to the
// next request. Connections belong to push service hosts, not apps, and are
// kept. On error nothing changes.
func (s *Sender) UpdateApps(apps map[string]AppConfig) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	next := make(map[string]*app, len(apps))
	for _, name := range slices.Sorted(maps.Keys(apps)) {
		cfg := apps[name]
		if !events.ValidApp(name) {
			return fmt.Errorf("webpush app %q: app name must be 1-64 characters of A-Z a-z 0-9 _ -", name)
		}
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("webpush app %q: %w", name, err)
		}
		keys, err := cfg.loadKeys()
		if err != nil {
			return fmt.Errorf("webpush app %q: %w", name, err)
		}
		sg, err := s.reuseSigner(name, keys, cfg.Subject)
		if err != nil {
			return fmt.Errorf("webpush app %q: %w", name, err)
		}
		next[name] = &app{name: name, signer: sg}
	}
	s.apps.Store(&next)
	return nil
}

// Apps lists the configured apps, sorted.
func (s *Sender) Apps() []string { return slices.Sorted(maps.Keys(*s.apps.Load())) }

// reuseSigner keeps an app's signer, and so its cached JWTs, when its
// keys and subject did not change.
func (s *Sender) reuseSigner(name string, keys vapidKeys, subject string) (*signer, error) {
	if old := (*s.apps.Load())[name]; old != nil && old.signer.k == keys.public &&
		old.signer.subject == subject && bytes.Equal(old.signer.privateRaw, keys.privateRaw) {
		return old.signer, nil
	}
	return newSigner(keys, subject)
}

// Close ends requests in flight (they answer Retry) and closes idle
// connections; later Sends answer ErrUnknownApp.
func (s *Sender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	empty := map[string]*app{}
	s.apps.Store(&empty)
	s.stop()
	s.transport.CloseIdleConnections()
	return nil
}

// Send pushes job to every token concurrently, one request per token (Web
// Push has no batch API), at most MaxInFlight at a time over the sender,
// and returns one Result per token in the job's order. The notification's
// expiry is checked right before each request: a token whose turn comes
// after it is Expired and never sent. Tokens still waiting for a slot when
// ctx ends get Retry matching provider.ErrNotSent.
func (s *Sender) Send(ctx context.Context, job *events.Job) []provider.Result {
	a, ok := (*s.apps.Load())[job.App]
	if !ok {
		return provider.All(job.Tokens, provider.Permanent, "unknown app",
			fmt.Errorf("%w: webpush has no app %q", provider.ErrUnknownApp, job.App))
	}
	msg, err := buildMessage(job, s.maxPayload)
	if err != nil {
		return provider.Rejected(job.Tokens, err)
	}
	results := make([]provider.Result, len(job.Tokens))
	if msg.expired(time.Now()) {
		for i, tok := range job.Tokens {
			results[i] = provider.ExpiredResult(tok, msg.expiry)
		}
		return results
	}
	var wg sync.WaitGroup
	for i, tok := range job.Tokens {
		_, tg, err := parseSubscription(tok)
		if err != nil {
			results[i] = provider.Result{Token: tok, Kind: provider.InvalidToken, Reason: "BadSubscription",
				Err: fmt.Errorf("%w: %w (not sent)", provider.ErrInvalidToken, err)}
			continue
		}
		wg.Go(func() { results[i] = s.push(ctx, a, msg, tok, tg) })
	}
	wg.Wait()
	s.logCredentialErrors(a, results)
	return results
}

// push sends msg to one subscription once a slot is free.
func (s *Sender) push(ctx context.Context, a *app, msg *message, token string, t *target) provider.Result {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return provider.NotSent(token, ctx.Err())
	case <-s.done.Done():
		return provider.NotSent(token, ErrClosed)
	}
	defer func() { <-s.slots }()
	if err := ctx.Err(); err != nil {
		return provider.NotSent(token, err)
	}
	now := time.Now()
	if msg.expired(now) {
		return provider.ExpiredResult(token, msg.expiry)
	}
	req, err := s.request(ctx, a, msg, t, now)
	if err != nil {
		return provider.NotSent(token, err)
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	defer context.AfterFunc(s.done, cancel)()

	s.cfg.Metrics.AddInFlight(Platform, 1)
	start := time.Now()
	resp, err := s.client.Do(req.WithContext(rctx))
	r := classify(token, resp, err, time.Now())
	s.cfg.Metrics.AddInFlight(Platform, -1)
	s.cfg.Metrics.ObserveRequest(Platform, a.name, r.Kind, r.AnsweredAt.Sub(start))
	return r
}

// request builds the RFC 8030 push request: the payload encrypted to the
// subscription (RFC 8291), the app's VAPID authorization for the push
// service's origin (RFC 8292, cached), TTL, Urgency and Topic.
func (s *Sender) request(ctx context.Context, a *app, msg *message, t *target, now time.Time) (*http.Request, error) {
	body, err := encrypt(msg.payload, t.ua, t.auth, s.cfg.RecordSize)
	if err != nil {
		return nil, err
	}
	auth, err := a.signer.authorization(t.origin, now)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	h := req.Header
	h["Content-Encoding"] = []string{"aes128gcm"}
	h["Content-Type"] = []string{"application/octet-stream"}
	h["Ttl"] = []string{strconv.Itoa(msg.ttl(now, s.cfg.MaxTTL))}
	h["Authorization"] = []string{auth}
	if msg.urgency != "" {
		h["Urgency"] = []string{msg.urgency}
	}
	if msg.topic != "" {
		h["Topic"] = []string{msg.topic}
	}
	return req, nil
}

// logCredentialErrors logs one line per job whose VAPID identity was
// rejected.
func (s *Sender) logCredentialErrors(a *app, rs []provider.Result) {
	n, first := provider.CountKind(rs, provider.CredentialError)
	if n > 0 {
		s.log.Warn("push service rejected the app's VAPID identity", "app", a.name,
			"reason", rs[first].Reason, "tokens", n, "first_token", tokenRef(rs[first].Token))
	}
}

// tokenRef is a short, non-reversible name of a subscription for logs (an
// endpoint is a capability: whoever has it and the keys can push).
func tokenRef(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:4])
}
