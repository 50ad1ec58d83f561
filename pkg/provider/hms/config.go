package hms

import (
	"cmp"
	"crypto/x509"
	"fmt"
	"log/slog"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Defaults applied by New to zero Config fields. See the package doc for
// the source of each protocol value.
const (
	// DefaultPushURL is the Push Kit server base URL; messages are posted
	// to PushURL + "/v1/{appId}/messages:send".
	DefaultPushURL = "https://push-api.cloud.huawei.com"
	// DefaultTokenURL is Huawei's OAuth 2.0 token endpoint (client
	// credentials grant).
	DefaultTokenURL = "https://oauth-login.cloud.huawei.com/oauth2/v3/token"

	DefaultRequestTimeout = 30 * time.Second
	DefaultTokenTimeout   = 10 * time.Second
	// DefaultRefreshBefore: an access token is renewed this long before it
	// expires (Huawei issues them for 3600 s).
	DefaultRefreshBefore   = 5 * time.Minute
	DefaultMaxInFlight     = 100
	DefaultMaxConnsPerHost = 4
	DefaultMaxTTL          = 15 * 24 * time.Hour
	DefaultMaxMessageBytes = 4096
	DefaultBackoffMin      = time.Second
	DefaultBackoffMax      = time.Minute
)

// MaxBatch is the most tokens one request may carry (Push Kit answers
// 80300010 beyond it).
const MaxBatch = 1000

// Config is the sender-wide configuration. Zero values take the defaults
// above; Validate rejects values that cannot work.
type Config struct {
	// PushURL is the Push Kit base URL (default DefaultPushURL). Point it
	// at a fake or a proxy for tests and the sandbox.
	PushURL string
	// TokenURL is the OAuth 2.0 token endpoint (default DefaultTokenURL).
	TokenURL string
	// RootCAs verifies both endpoints' certificates; nil: system roots.
	RootCAs *x509.CertPool

	// BatchSize is the most tokens per request, at most MaxBatch (the
	// default). A job with more tokens is split into concurrent requests.
	BatchSize int
	// RequestTimeout bounds one push request (default 30s).
	RequestTimeout time.Duration
	// TokenTimeout bounds one OAuth token request (default 10s).
	TokenTimeout time.Duration
	// RefreshBefore is how long before its expiry an access token is
	// renewed (default 5m). The renewal runs in the background while the
	// current token is still used; only when no valid token is left do
	// requests wait for it. Capped at half the token's lifetime.
	RefreshBefore time.Duration
	// MaxInFlight bounds the push requests in flight across all apps
	// (default 100). Over HTTP/2 this keeps the sender on one connection
	// (Go assumes 100 streams until the server says otherwise).
	MaxInFlight int
	// MaxConnsPerHost caps connections per host (default 4): without it a
	// burst beyond one HTTP/2 connection's streams dials one per request.
	MaxConnsPerHost int
	// MaxTTL is the longest android.ttl sent (default 15 days, Push Kit's
	// longest cache time). A notification without expiry sends no ttl
	// (Push Kit's default, one day, applies).
	MaxTTL time.Duration
	// MaxMessageBytes bounds the JSON message object without its token
	// list, checked before sending (default 4096, Push Kit's 80300008
	// limit; negative: unchecked). Larger is Permanent ErrPayloadTooLarge.
	MaxMessageBytes int
	// BackoffMin and BackoffMax bound the RetryAfter given to rate-limited
	// tokens (HTTP 503 flow control, 429) when Push Kit sends no
	// Retry-After: it doubles per consecutive rate-limited answer of an app,
	// with jitter, and resets on any other answer (defaults 1s and 1m).
	BackoffMin, BackoffMax time.Duration

	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// Metrics records request durations, in-flight requests, open
	// connections and credential errors; nil records nothing.
	Metrics *provider.Metrics
}

// Validate reports the first field that cannot work.
func (c *Config) Validate() error {
	for name, u := range map[string]string{"push_url": c.PushURL, "token_url": c.TokenURL} {
		if u == "" {
			continue
		}
		if err := provider.CheckHTTPURL(u); err != nil {
			return fmt.Errorf("hms config: %s: %w", name, err)
		}
	}
	if c.BatchSize > MaxBatch {
		return fmt.Errorf("hms config: batch_size %d exceeds Push Kit's limit of %d tokens", c.BatchSize, MaxBatch)
	}
	if name := provider.Negative(map[string]int64{
		"batch_size": int64(c.BatchSize), "request_timeout": int64(c.RequestTimeout),
		"token_timeout": int64(c.TokenTimeout), "refresh_before": int64(c.RefreshBefore),
		"max_in_flight": int64(c.MaxInFlight), "max_conns_per_host": int64(c.MaxConnsPerHost),
		"max_ttl": int64(c.MaxTTL), "backoff_min": int64(c.BackoffMin), "backoff_max": int64(c.BackoffMax),
	}); name != "" {
		return fmt.Errorf("hms config: %s must not be negative", name)
	}
	if c.BackoffMin > 0 && c.BackoffMax > 0 && c.BackoffMin > c.BackoffMax {
		return fmt.Errorf("hms config: backoff_min exceeds backoff_max")
	}
	return nil
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	c.PushURL = cmp.Or(c.PushURL, DefaultPushURL)
	c.TokenURL = cmp.Or(c.TokenURL, DefaultTokenURL)
	c.BatchSize = cmp.Or(c.BatchSize, MaxBatch)
	c.RequestTimeout = cmp.Or(c.RequestTimeout, DefaultRequestTimeout)
	c.TokenTimeout = cmp.Or(c.TokenTimeout, DefaultTokenTimeout)
	c.RefreshBefore = cmp.Or(c.RefreshBefore, DefaultRefreshBefore)
	c.MaxInFlight = cmp.Or(c.MaxInFlight, DefaultMaxInFlight)
	c.MaxConnsPerHost = cmp.Or(c.MaxConnsPerHost, DefaultMaxConnsPerHost)
	c.MaxTTL = cmp.Or(c.MaxTTL, DefaultMaxTTL)
	c.MaxMessageBytes = cmp.Or(c.MaxMessageBytes, DefaultMaxMessageBytes)
	c.BackoffMin = cmp.Or(c.BackoffMin, DefaultBackoffMin)
	c.BackoffMax = cmp.Or(c.BackoffMax, DefaultBackoffMax)
	if c.BackoffMax < c.BackoffMin {
		c.BackoffMax = c.BackoffMin
	}
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	return c
}
