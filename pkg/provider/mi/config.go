package mi

import (
	"cmp"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Regions known to MiPush. A device's regid lives in one region and must be
// pushed through that region's host.
const (
	RegionChina  = "china"
	RegionEurope = "europe"
	RegionRussia = "russia"
	RegionIndia  = "india"
	RegionOther  = "other"
)

// DefaultHosts are the push API base URLs per region (Xiaomi's 2023 host list).
var DefaultHosts = map[string]string{
	RegionChina:  "https://api.xmpush.xiaomi.com",
	RegionEurope: "https://fr-api.xmpush.global.xiaomi.com",
	RegionRussia: "https://ru-api.xmpush.global.xiaomi.com",
	RegionIndia:  "https://idmb-api.xmpush.global.xiaomi.com",
	RegionOther:  "https://sgp-api.xmpush.global.xiaomi.com",
}

// DefaultFeedbackHosts are the feedback base URLs per region. China's is
// documented; the global ones come from the Java SDK 1.0.5 constants and are
// unverified against the 2023 host names, hence configurable.
var DefaultFeedbackHosts = map[string]string{
	RegionChina:  "https://feedback.xmpush.xiaomi.com",
	RegionEurope: "https://fr.feedback.xmpush.global.xiaomi.com",
	RegionRussia: "https://ru.feedback.xmpush.global.xiaomi.com",
	RegionIndia:  "https://idmb.feedback.xmpush.global.xiaomi.com",
	RegionOther:  "https://feedback.xmpush.global.xiaomi.com",
}

// Defaults applied by New to zero Config fields.
const (
	DefaultBatchSize          = 1000
	DefaultRequestTimeout     = 30 * time.Second
	DefaultMaxConnsPerHost    = 16
	DefaultMaxInFlightPerHost = 100
	DefaultConnMaxAge         = 5 * time.Minute
	DefaultIdleConnTimeout    = 90 * time.Second
	DefaultBackoffMin         = 250 * time.Millisecond
	DefaultBackoffMax         = 30 * time.Second
	// DefaultMaxContentBytes bounds title+description+payload+extras. Xiaomi
	// does not publish the limit; 4 KiB is what integrations commonly assume.
	DefaultMaxContentBytes = 4096
)

// Config configures a Sender. Zero values take the documented defaults.
type Config struct {
	// Hosts maps a region to the push API base URL. Entries are merged over
	// DefaultHosts, so a config may add regions or replace single hosts.
	Hosts map[string]string
	// FeedbackHosts maps a region to the feedback base URL, merged over
	// DefaultFeedbackHosts. An empty value disables polling for the region.
	FeedbackHosts map[string]string
	// BaseURL, when set, points every region and the feedback API at one
	// host (a fake or a proxy). It wins over Hosts and FeedbackHosts.
	BaseURL string
	// RootCAs trusts extra roots (the fake's certificate); nil: system roots.
	RootCAs *x509.CertPool

	// BatchSize is the most regids per request (default 1000); a job with
	// more tokens is split into concurrent requests.
	BatchSize int
	// RequestTimeout bounds one HTTP request (default 30s).
	RequestTimeout time.Duration
	// MaxInFlightPerHost bounds the requests in flight to one host, across
	// apps (default 100); more wait for a slot. Over HTTP/2 they share one
	// connection as long as the server allows that many streams (HTTP/2
	// servers commonly allow 100 or more; Go assumes 100 until told), so
	// the default keeps one pipelined connection per host.
	MaxInFlightPerHost int
	// MaxConnsPerHost bounds connections per host (default 16): over
	// HTTP/1.1 it is the number of requests in flight per host; over HTTP/2
	// a second connection is only opened when the server's stream limit is
	// below MaxInFlightPerHost.
	MaxConnsPerHost int
	// DisableHTTP2 forces the HTTP/1.1 keep-alive pool.
	DisableHTTP2 bool
	// ConnMaxAge is how long one set of connections is used before new
	// requests move to fresh connections (default 5m; negative: never).
	// Requests in flight finish on the old connections, which then close.
	ConnMaxAge time.Duration
	// IdleConnTimeout closes connections idle that long (default 90s).
	IdleConnTimeout time.Duration
	// BackoffMin and BackoffMax bound the wait between failed dials to a
	// host (defaults 250ms and 30s, doubling with jitter). While a host is
	// backing off, requests to it fail at once with a Retry result.
	BackoffMin, BackoffMax time.Duration
	// MaxContentBytes bounds the message content (default 4096; negative:
	// unchecked). Larger messages are Permanent with ErrPayloadTooLarge.
	MaxContentBytes int

	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// Metrics records request durations, in-flight requests and open
	// connections; nil records nothing.
	Metrics *provider.Metrics
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	if c.BaseURL != "" {
		if err := provider.CheckHTTPURL(c.BaseURL); err != nil {
			return fmt.Errorf("mi config: base_url: %w", err)
		}
	}
	for region, u := range c.Hosts {
		if region == "" {
			return errors.New("mi config: hosts: empty region name")
		}
		if err := provider.CheckHTTPURL(u); err != nil {
			return fmt.Errorf("mi config: hosts[%s]: %w", region, err)
		}
	}
	for region, u := range c.FeedbackHosts {
		if region == "" {
			return errors.New("mi config: feedback_hosts: empty region name")
		}
		if u == "" {
			continue
		}
		if err := provider.CheckHTTPURL(u); err != nil {
			return fmt.Errorf("mi config: feedback_hosts[%s]: %w", region, err)
		}
	}
	if name := provider.Negative(map[string]int64{
		"batch_size": int64(c.BatchSize), "request_timeout": int64(c.RequestTimeout),
		"max_in_flight_per_host": int64(c.MaxInFlightPerHost), "max_conns_per_host": int64(c.MaxConnsPerHost),
		"idle_conn_timeout": int64(c.IdleConnTimeout), "backoff_min": int64(c.BackoffMin),
		"backoff_max": int64(c.BackoffMax),
	}); name != "" {
		return fmt.Errorf("mi config: %s must not be negative", name)
	}
	if c.BackoffMin > 0 && c.BackoffMax > 0 && c.BackoffMin > c.BackoffMax {
		return errors.New("mi config: backoff_min exceeds backoff_max")
	}
	return nil
}

// withDefaults returns c with zero fields set to their defaults and the host
// maps resolved (BaseURL applied).
func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.BatchSize, DefaultBatchSize)
	def(&c.MaxInFlightPerHost, DefaultMaxInFlightPerHost)
	def(&c.MaxConnsPerHost, DefaultMaxConnsPerHost)
	def(&c.MaxContentBytes, DefaultMaxContentBytes)
	defD(&c.RequestTimeout, DefaultRequestTimeout)
	defD(&c.ConnMaxAge, DefaultConnMaxAge)
	defD(&c.IdleConnTimeout, DefaultIdleConnTimeout)
	defD(&c.BackoffMin, DefaultBackoffMin)
	defD(&c.BackoffMax, DefaultBackoffMax)
	if c.BackoffMax < c.BackoffMin {
		c.BackoffMax = c.BackoffMin
	}
	hosts := maps.Clone(DefaultHosts)
	maps.Copy(hosts, c.Hosts)
	feedback := maps.Clone(DefaultFeedbackHosts)
	maps.Copy(feedback, c.FeedbackHosts)
	if c.BaseURL != "" {
		for r := range hosts {
			hosts[r], feedback[r] = c.BaseURL, c.BaseURL
		}
		for r := range feedback {
			feedback[r] = c.BaseURL
		}
	}
	c.Hosts, c.FeedbackHosts = hosts, feedback
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	return c
}
