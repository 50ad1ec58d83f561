// Package webhook is a pushfleet channel (pkg/channel) that POSTs each
// notification, one request per token, to the app's HTTPS URL, signed with
// an HMAC-SHA256 of a timestamp and the body, in the spirit of pusher's
// signed API requests. cmd/webhook-sender runs it; docs/channels.md
// documents the request and how a receiver verifies it (Verify does).
//
// The request:
//
//	POST <url>
//	Content-Type: application/json
//	X-Pushfleet-Timestamp: 1767225600                (unix seconds)
//	X-Pushfleet-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
//	X-Pushfleet-Delivery: <id, the same on every retry of this token>
//	X-Pushfleet-App: shop
//
//	{"id":"…","app":"shop","token":"…","intent_id":"…","job_id":"…",
//	 "attempt":0,"created_at":"…","notification":{…}}
//
// The receiver's answer decides what happens: 2xx delivered; 404 or 410:
// the token is gone and retired; 401 or 403: our secret is refused and the
// app pauses; 429, 408 or 5xx: retried (after Retry-After, if sent); other
// answers (and redirects, which are never followed) are dead-lettered.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pushfleet/pushfleet/pkg/channel"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Platform is the webhook channel's platform name: declare it
// (events.DeclarePlatform, --platforms webhook) in every process that
// handles webhook tokens.
const Platform events.Platform = "webhook"

// The headers of a webhook request.
const (
	HeaderTimestamp = "X-Pushfleet-Timestamp"
	HeaderSignature = "X-Pushfleet-Signature"
	HeaderDelivery  = "X-Pushfleet-Delivery"
	HeaderApp       = "X-Pushfleet-App"
)

// Defaults and bounds.
const (
	// DefaultTolerance is how far a request's timestamp may be from the
	// receiver's clock (either way) for Verify: it bounds replays.
	DefaultTolerance = 5 * time.Minute
	// DefaultTimeout bounds one request, answer included.
	DefaultTimeout = 10 * time.Second
	// MaxBody is the largest request body sent; a larger one is permanent.
	MaxBody = 64 << 10
	// minSecret is the least secret length, in bytes.
	minSecret = 16
)

// AppConfig is one app's webhook settings, the "webhook" section of the
// apps file:
//
//	apps:
//	  shop:
//	    webhook: {url: "https://hooks.example.com/push", secret_file: /secrets/shop-webhook}
type AppConfig struct {
	// URL receives the POSTs; https only.
	URL string `json:"url"`
	// SecretFile holds the HMAC secret (at least 16 bytes; surrounding
	// white space is trimmed).
	SecretFile string `json:"secret_file"`
}

// Validate checks the settings (not the secret file's content: New does).
func (c AppConfig) Validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		return errors.New("webhook: url is required")
	case err != nil:
		return fmt.Errorf("webhook: url: %w", err)
	case u.Scheme != "https" || u.Host == "":
		return fmt.Errorf("webhook: url %q must be an absolute https URL", c.URL)
	case u.User != nil:
		return errors.New("webhook: url must not carry credentials: the signature authenticates the request")
	case c.SecretFile == "":
		return errors.New("webhook: secret_file is required")
	}
	return nil
}

// Sign returns the X-Pushfleet-Signature value of body sent at timestamp
// ts (unix seconds): "v1=" and the hex HMAC-SHA256, keyed with secret, of
// "<ts>.<body>".
func Sign(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// Errors of Verify.
var (
	ErrNoSignature = errors.New("webhook: missing or malformed signature or timestamp")
	ErrTimestamp   = errors.New("webhook: timestamp outside the tolerance")
	ErrSignature   = errors.New("webhook: signature does not match")
)

// Verify checks a received request's signature headers against body with
// secret: the timestamp within tolerance of now (<= 0: DefaultTolerance),
// then one of the signature's comma-separated v1= values (a sender may
// send several while a secret is rotated), compared in constant time.
func Verify(secret []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	ts, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	sig := h.Get(HeaderSignature)
	if err != nil || sig == "" {
		return ErrNoSignature
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %v from now", ErrTimestamp, d.Round(time.Second))
	}
	want := []byte(Sign(secret, ts, body))
	for s := range strings.SplitSeq(sig, ",") {
		if hmac.Equal([]byte(strings.TrimSpace(s)), want) {
			return nil
		}
	}
	return ErrSignature
}

// Body is the JSON body of a webhook request.
type Body struct {
	// ID is the same on every retry of this token of this intent: the
	// receiver's idempotency key (also in X-Pushfleet-Delivery).
	ID           string              `json:"id"`
	App          string              `json:"app"`
	Token        string              `json:"token"`
	IntentID     string              `json:"intent_id"`
	JobID        string              `json:"job_id"`
	Attempt      int                 `json:"attempt"`
	CreatedAt    time.Time           `json:"created_at"`
	Notification events.Notification `json:"notification"`
}

// Options configure a Sender. Zero values take the defaults.
type Options struct {
	// Roots are the CAs trusted for the apps' URLs (nil: the system's).
	Roots *x509.CertPool
	// Timeout bounds one request (default DefaultTimeout).
	Timeout time.Duration
	// Concurrency, MaxRequests, Metrics: see channel.Options.
	Concurrency int
	MaxRequests int
	Metrics     *provider.Metrics
	// Now is the clock of timestamps and expiry checks (default time.Now).
	Now func() time.Time
}

type app struct {
	url    string
	secret []byte
}

// Sender delivers webhook jobs: a provider.Sender whose apps can change at
// run time (UpdateApps).
type Sender struct {
	send   *channel.Sender
	apps   atomic.Pointer[map[string]app]
	client *http.Client
	now    func() time.Time
}

// New returns a Sender for apps, reading each app's secret file.
func New(apps map[string]AppConfig, o Options) (*Sender, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: o.Roots, MinVersion: tls.VersionTLS12}
	tr.MaxIdleConnsPerHost = 64
	s := &Sender{now: o.Now, client: &http.Client{
		Transport: tr, Timeout: o.Timeout,
		// A signed body is never re-sent elsewhere: a redirect is an answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	if err := s.UpdateApps(apps); err != nil {
		return nil, err
	}
	s.send = channel.NewSender(s, channel.Options{Concurrency: o.Concurrency, MaxRequests: o.MaxRequests, Metrics: o.Metrics, Now: o.Now})
	return s, nil
}

// UpdateApps replaces the apps' settings, reading their secret files; on
// error the previous settings stay.
func (s *Sender) UpdateApps(apps map[string]AppConfig) error {
	m := make(map[string]app, len(apps))
	for name, c := range apps {
		if err := c.Validate(); err != nil {
			return fmt.Errorf("app %q: %w", name, err)
		}
		b, err := os.ReadFile(c.SecretFile)
		if err != nil {
			return fmt.Errorf("app %q: webhook secret: %w", name, err)
		}
		secret := bytes.TrimSpace(b)
		if len(secret) < minSecret {
			return fmt.Errorf("app %q: webhook secret in %s is %d bytes, want at least %d", name, c.SecretFile, len(secret), minSecret)
		}
		m[name] = app{url: c.URL, secret: secret}
	}
	s.apps.Store(&m)
	return nil
}

// Send delivers the job (provider.Sender).
func (s *Sender) Send(ctx context.Context, job *events.Job) []provider.Result {
	return s.send.Send(ctx, job)
}

// Close closes idle connections.
func (s *Sender) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// Deliver POSTs one token's notification (channel.Deliverer).
func (s *Sender) Deliver(ctx context.Context, d channel.Delivery) provider.Result {
	a, ok := (*s.apps.Load())[d.App]
	if !ok {
		return channel.UnknownApp(d.App)
	}
	body, err := json.Marshal(Body{ID: d.ID, App: d.App, Token: d.Token, IntentID: d.IntentID, JobID: d.JobID,
		Attempt: d.Attempt, CreatedAt: d.CreatedAt, Notification: *d.Notification})
	if err != nil {
		return channel.Permanent("encode: "+err.Error(), provider.ErrBadMessage)
	}
	if len(body) > MaxBody {
		return channel.Permanent(fmt.Sprintf("body of %d bytes over %d", len(body), MaxBody), provider.ErrPayloadTooLarge)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(body))
	if err != nil {
		return channel.Permanent("request: "+err.Error(), provider.ErrBadMessage)
	}
	ts := s.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "pushfleet-webhook-sender")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(a.secret, ts, body))
	req.Header.Set(HeaderDelivery, d.ID)
	req.Header.Set(HeaderApp, d.App)
	resp, err := s.client.Do(req)
	r := channel.HTTPResult(resp, err, s.now())
	if err == nil {
		// Drain a little so the connection is reused, then close.
		var buf [512]byte
		n, _ := resp.Body.Read(buf[:])
		resp.Body.Close()
		if r.Kind != provider.Delivered && n > 0 {
			r.Reason += ": " + strings.ToValidUTF8(strings.TrimSpace(string(buf[:n])), "?")
		}
	}
	return r
}
