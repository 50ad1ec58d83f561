package gateway

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Defaults of the gateway's settings.
const (
	DefaultAddr       = ":8088" // gorush's port: switching needs only the host
	DefaultMaxBody    = 1 << 20
	DefaultMaxBatch   = 100
	DefaultRate       = 50.0
	DefaultBurst      = 100
	DefaultTimeout    = 10 * time.Second
	DefaultKeysReload = 10 * time.Second
)

// Config are the gateway's settings.
type Config struct {
	// Addr is the API listener (host:port); empty disables the gateway
	// (the all-in-one's default).
	Addr string
	// KeysFile is the API keys file (YAML or JSON, see keys.go).
	KeysFile string
	// KeysReload is how often the keys file is checked for changes (0: never).
	KeysReload time.Duration
	// TLSCert and TLSKey serve HTTPS when both are set; the files are
	// re-read when they change (certificate rotation without restart).
	TLSCert, TLSKey string
	// Rate and Burst are each key's default request rate limit (requests per
	// second, bucket size); a key may set its own in the keys file.
	Rate  float64
	Burst int
	// MaxBody caps a request body in bytes (413 past it).
	MaxBody int64
	// MaxBatch caps the intents of one POST /v1/intents and the
	// notifications of one POST /api/push.
	MaxBatch int
	// Timeout bounds one request's handling (its publishes); the HTTP
	// server's read and write timeouts are derived from it.
	Timeout time.Duration
	// ShutdownDelay is how long the gateway keeps serving after SIGTERM
	// (readiness already failing) before it stops accepting connections,
	// so that load balancers stop sending first.
	ShutdownDelay time.Duration
	// DrainTimeout bounds the wait for in-flight requests at shutdown
	// (the process's --drain-timeout when zero).
	DrainTimeout time.Duration
	// Limits and Horizon are what events.Publisher checks before publishing
	// (match the dispatcher's --max-intent-bytes and --schedule-horizon).
	Limits  events.Limits
	Horizon time.Duration
}

// Register adds the gateway's flags to fs; defaultAddr is --gateway-addr's
// default (DefaultAddr in push-gateway, "" (off) in the all-in-one).
// --max-intent-bytes and --schedule-horizon are added only when fs has none
// yet (the all-in-one's dispatcher registers them: copy them into Limits and
// Horizon then).
func (c *Config) Register(fs *flag.FlagSet, defaultAddr string) {
	fs.StringVar(&c.Addr, "gateway-addr", defaultAddr, "address of the HTTP push gateway (POST /v1/intents, POST /api/push); empty: no gateway")
	fs.StringVar(&c.KeysFile, "gateway-keys-file", "", "API keys file (YAML or JSON): SHA-256 of each key and the apps it may publish for")
	fs.DurationVar(&c.KeysReload, "gateway-keys-reload", DefaultKeysReload, "how often the keys file is checked for changes (0: never)")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "TLS certificate file of the gateway (with --tls-key: HTTPS; re-read when it changes)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "TLS private key file of the gateway")
	fs.Float64Var(&c.Rate, "gateway-rate", DefaultRate, "requests per second per API key (a key may set its own in the keys file)")
	fs.IntVar(&c.Burst, "gateway-burst", DefaultBurst, "burst of requests per API key above --gateway-rate")
	fs.Int64Var(&c.MaxBody, "gateway-max-body", DefaultMaxBody, "largest request body in bytes (413 past it)")
	fs.IntVar(&c.MaxBatch, "gateway-max-batch", DefaultMaxBatch, "most intents per POST /v1/intents and notifications per POST /api/push")
	fs.DurationVar(&c.Timeout, "gateway-timeout", DefaultTimeout, "bound on handling one request (reading it, publishing its intents)")
	fs.DurationVar(&c.ShutdownDelay, "gateway-shutdown-delay", 0, "how long to keep serving after SIGTERM, not ready, before closing the listener (let load balancers catch up)")
	if fs.Lookup("max-intent-bytes") == nil {
		fs.IntVar(&c.Limits.MaxIntentBytes, "max-intent-bytes", events.DefaultLimits.MaxIntentBytes, "largest intent accepted, in bytes (the dispatcher's --max-intent-bytes)")
	}
	if fs.Lookup("schedule-horizon") == nil {
		fs.DurationVar(&c.Horizon, "schedule-horizon", events.DefaultScheduleHorizon, "how far ahead send_at may be (the dispatcher's --schedule-horizon)")
	}
}

// withDefaults fills zero settings.
func (c Config) withDefaults() Config {
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Burst == 0 {
		c.Burst = DefaultBurst
	}
	if c.MaxBody == 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Horizon == 0 {
		c.Horizon = events.DefaultScheduleHorizon
	}
	return c
}

// Validate reports unusable settings.
func (c Config) Validate() error {
	switch {
	case c.Addr == "":
		return errors.New("gateway: --gateway-addr is empty")
	case c.KeysFile == "":
		return errors.New("gateway: --gateway-keys-file is required: every publishing route needs an API key")
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("gateway: --tls-cert and --tls-key go together")
	case c.Rate < 0 || c.Burst < 0:
		return errors.New("gateway: --gateway-rate and --gateway-burst must not be negative")
	case c.MaxBody < 0 || c.MaxBatch < 0 || c.Timeout < 0 || c.KeysReload < 0 || c.ShutdownDelay < 0:
		return fmt.Errorf("gateway: sizes and durations must not be negative")
	}
	return nil
}
