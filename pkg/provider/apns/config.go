package apns

import (
	"cmp"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Apple's endpoints, the defaults of Config.ProductionURL and Config.SandboxURL.
const (
	DefaultProductionURL = "https://api.push.apple.com"
	DefaultSandboxURL    = "https://api.sandbox.push.apple.com"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultConnsPerPool        = 2
	DefaultMaxStreamsPerConn   = 100
	DefaultRequestTimeout      = 10 * time.Second
	DefaultDialTimeout         = 10 * time.Second
	DefaultPingInterval        = 15 * time.Second
	DefaultPingTimeout         = 5 * time.Second
	DefaultReconnectBackoffMin = 250 * time.Millisecond
	DefaultReconnectBackoffMax = 30 * time.Second
	// DefaultJWTRenewInterval is Apple's floor between two JWTs of one key:
	// more often earns 429 TooManyProviderTokenUpdates.
	DefaultJWTRenewInterval = 20 * time.Minute
)

// Config is the sender-wide configuration. Zero values mean the documented
// default; New applies them.
type Config struct {
	// ProductionURL and SandboxURL are the APNs base URLs of the two
	// environments (default Apple's). Point them at a fake in tests.
	ProductionURL string
	SandboxURL    string
	// RootCAs verifies the server certificate; nil means the system roots.
	RootCAs *x509.CertPool

	// ConnsPerPool is how many HTTP/2 connections are kept per
	// (credentials, environment) (default 2).
	ConnsPerPool int
	// MaxStreamsPerConn bounds the requests in flight on one connection
	// (default 100); further tokens wait for a free slot.
	MaxStreamsPerConn int
	// RequestTimeout bounds one request, slot wait excluded (default 10s).
	RequestTimeout time.Duration
	// DialTimeout bounds TCP connect plus TLS handshake (default 10s).
	DialTimeout time.Duration
	// PingInterval: a connection silent that long is health-checked with an
	// HTTP/2 PING (default 15s); PingTimeout closes it when the PING is not
	// answered in time (default 5s).
	PingInterval time.Duration
	PingTimeout  time.Duration
	// ReconnectBackoffMin and ReconnectBackoffMax bound the wait after a
	// failed dial before the next one (defaults 250ms and 30s, doubling with
	// jitter). Requests during the wait fail fast with Retry.
	ReconnectBackoffMin time.Duration
	ReconnectBackoffMax time.Duration
	// JWTRenewInterval is the least time between two renewals of one key's
	// JWT forced by ExpiredProviderToken answers (default 20m).
	JWTRenewInterval time.Duration

	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// Metrics records request durations, in-flight requests and open
	// connections; nil records nothing.
	Metrics *provider.Metrics
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	c.ProductionURL = cmp.Or(c.ProductionURL, DefaultProductionURL)
	c.SandboxURL = cmp.Or(c.SandboxURL, DefaultSandboxURL)
	c.ConnsPerPool = cmp.Or(c.ConnsPerPool, DefaultConnsPerPool)
	c.MaxStreamsPerConn = cmp.Or(c.MaxStreamsPerConn, DefaultMaxStreamsPerConn)
	c.RequestTimeout = cmp.Or(c.RequestTimeout, DefaultRequestTimeout)
	c.DialTimeout = cmp.Or(c.DialTimeout, DefaultDialTimeout)
	c.PingInterval = cmp.Or(c.PingInterval, DefaultPingInterval)
	c.PingTimeout = cmp.Or(c.PingTimeout, DefaultPingTimeout)
	c.ReconnectBackoffMin = cmp.Or(c.ReconnectBackoffMin, DefaultReconnectBackoffMin)
	c.ReconnectBackoffMax = cmp.Or(c.ReconnectBackoffMax, DefaultReconnectBackoffMax)
	c.JWTRenewInterval = cmp.Or(c.JWTRenewInterval, DefaultJWTRenewInterval)
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	return c
}

// Validate reports the first invalid field. Zero values are valid (they
// mean the default).
func (c *Config) Validate() error {
	for name, u := range map[string]string{"ProductionURL": c.ProductionURL, "SandboxURL": c.SandboxURL} {
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || p.Scheme != "https" || p.Host == "" || (p.Path != "" && p.Path != "/") {
			return fmt.Errorf("apns config: %s: want https://host[:port], got %q", name, u)
		}
	}
	for name, n := range map[string]int{"ConnsPerPool": c.ConnsPerPool, "MaxStreamsPerConn": c.MaxStreamsPerConn} {
		if n < 0 {
			return fmt.Errorf("apns config: %s must not be negative, got %d", name, n)
		}
	}
	for name, d := range map[string]time.Duration{
		"RequestTimeout": c.RequestTimeout, "DialTimeout": c.DialTimeout,
		"PingInterval": c.PingInterval, "PingTimeout": c.PingTimeout,
		"ReconnectBackoffMin": c.ReconnectBackoffMin, "ReconnectBackoffMax": c.ReconnectBackoffMax,
		"JWTRenewInterval": c.JWTRenewInterval,
	} {
		if d < 0 {
			return fmt.Errorf("apns config: %s must not be negative, got %v", name, d)
		}
	}
	if c.ReconnectBackoffMin > 0 && c.ReconnectBackoffMax > 0 && c.ReconnectBackoffMin > c.ReconnectBackoffMax {
		return errors.New("apns config: ReconnectBackoffMin exceeds ReconnectBackoffMax")
	}
	return nil
}

// baseURL is the APNs base URL of env, without a trailing slash.
func (c *Config) baseURL(env Environment) string {
	u := c.ProductionURL
	if env == Sandbox {
		u = c.SandboxURL
	}
	for len(u) > 0 && u[len(u)-1] == '/' {
		u = u[:len(u)-1]
	}
	return u
}
