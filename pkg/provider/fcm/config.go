package fcm

import (
	"cmp"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultEndpoint             = "https://fcm.googleapis.com/v1"
	DefaultBatchTimeout         = 15 * time.Second
	DefaultTokenTimeout         = 10 * time.Second
	DefaultMaxConcurrentBatches = 8
	DefaultMaxConnsPerHost      = 4
	DefaultRatePerMinute        = 600_000
	DefaultQuotaRetryAfter      = time.Minute
	DefaultMaxPayloadBytes      = 4096
)

// MaxBatch is the most messages of one batch (SendEach's limit, kept).
const MaxBatch = 500

// Config is the sender-wide configuration. Zero values take the defaults
// above; Validate rejects values that cannot work.
type Config struct {
	// Endpoint is the FCM HTTP v1 base URL; messages are posted to
	// Endpoint + "/projects/{project_id}/messages:send".
	// Default DefaultEndpoint. Point it at a fake for tests and the sandbox.
	Endpoint string
	// RootCAs verifies the TLS certificates of Endpoint and of the OAuth
	// token endpoint (the service account's token_uri). Nil: system roots.
	RootCAs *x509.CertPool
	// BatchTimeout bounds one batch of up to 500 messages, including the
	// Admin SDK's own retries of 503s and network errors (about 7 s).
	// Default 15s.
	BatchTimeout time.Duration
	// TokenTimeout bounds one OAuth token request. Default 10s.
	TokenTimeout time.Duration
	// MaxConcurrentBatches bounds the batches in flight across all jobs;
	// each runs up to 50 HTTP requests at a time. Default 8.
	MaxConcurrentBatches int
	// MaxConnsPerHost is http.Transport.MaxConnsPerHost for FCM and the
	// token endpoint. Each HTTP/2 connection carries 100 or more requests at
	// a time; when they are all busy Go's transport would otherwise dial a
	// connection per waiting request. For HTTP/2 Go counts only connections
	// with free streams, so a few more may be open under load. Default 4.
	MaxConnsPerHost int
	// RatePerMinute is the message rate allowed per FCM project before the
	// sender waits (FCM's default quota is 600,000/min). Default 600000.
	RatePerMinute int
	// QuotaRetryAfter is how long a project is held after QUOTA_EXCEEDED
	// when FCM gives no Retry-After. Default 1 minute, as FCM advises.
	QuotaRetryAfter time.Duration
	// MaxPayloadBytes is checked locally before sending: title, body and
	// data keys and values together. Default 4096, FCM's limit.
	MaxPayloadBytes int
	// Logger receives the sender's logs. Nil discards them.
	Logger *slog.Logger
	// Metrics receives provider metrics. Nil records nothing.
	Metrics *provider.Metrics
}

// Validate reports the first field that cannot work.
func (c *Config) Validate() error {
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("fcm: Config.Endpoint %q must be an absolute http(s) URL", c.Endpoint)
		}
	}
	for name, d := range map[string]time.Duration{
		"BatchTimeout": c.BatchTimeout, "TokenTimeout": c.TokenTimeout, "QuotaRetryAfter": c.QuotaRetryAfter,
	} {
		if d < 0 {
			return fmt.Errorf("fcm: Config.%s must not be negative", name)
		}
	}
	for name, n := range map[string]int{
		"MaxConcurrentBatches": c.MaxConcurrentBatches, "MaxConnsPerHost": c.MaxConnsPerHost, "RatePerMinute": c.RatePerMinute, "MaxPayloadBytes": c.MaxPayloadBytes,
	} {
		if n < 0 {
			return fmt.Errorf("fcm: Config.%s must not be negative", name)
		}
	}
	return nil
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	c.Endpoint = cmp.Or(c.Endpoint, DefaultEndpoint)
	c.BatchTimeout = cmp.Or(c.BatchTimeout, DefaultBatchTimeout)
	c.TokenTimeout = cmp.Or(c.TokenTimeout, DefaultTokenTimeout)
	c.MaxConcurrentBatches = cmp.Or(c.MaxConcurrentBatches, DefaultMaxConcurrentBatches)
	c.MaxConnsPerHost = cmp.Or(c.MaxConnsPerHost, DefaultMaxConnsPerHost)
	c.RatePerMinute = cmp.Or(c.RatePerMinute, DefaultRatePerMinute)
	c.QuotaRetryAfter = cmp.Or(c.QuotaRetryAfter, DefaultQuotaRetryAfter)
	c.MaxPayloadBytes = cmp.Or(c.MaxPayloadBytes, DefaultMaxPayloadBytes)
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	return c
}
