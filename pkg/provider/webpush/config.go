package webpush

import (
	"cmp"
	"crypto/ecdh"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultMaxInFlight     = 200
	DefaultRequestTimeout  = 10 * time.Second
	DefaultDialTimeout     = 10 * time.Second
	DefaultIdleConnTimeout = 90 * time.Second
	DefaultPingTimeout     = 5 * time.Second
	// DefaultMaxTTL is the longest TTL sent: four weeks, what FCM's web
	// push and Mozilla autopush keep at most (longer values are cut by the
	// service anyway, RFC 8030 section 5.2).
	DefaultMaxTTL = 28 * 24 * time.Hour
	// DefaultRecordSize is the aes128gcm record size, and so the size of
	// every encrypted body: every payload is padded to it, so its length
	// tells an observer nothing (RFC 8291 section 4; webpush-go does the
	// same), and a push service must accept 4096 bytes (RFC 8030 section
	// 7.2). Mozilla's
	// service limits bodies for some mobile devices to about 3070 bytes
	// (webpush-go issue 23): set Config.RecordSize to 3070 for those.
	DefaultRecordSize = 4096
)

// headerLen is the aes128gcm header webpush-go writes: salt (16), record
// size (4), key id length (1), the ephemeral public key (65).
const headerLen = 16 + 4 + 1 + 65

// Config is the sender-wide configuration. Zero values mean the documented
// default; New applies them.
type Config struct {
	// RootCAs verifies push services' certificates; nil means the system
	// roots. Tests point it at the fake's.
	RootCAs *x509.CertPool
	// MaxInFlight bounds the requests in flight over all push services
	// (default 200); further tokens wait for a slot.
	MaxInFlight int
	// MaxConnsPerHost bounds the connections to one push service host
	// (0: no bound; with HTTP/2 one connection carries many requests).
	MaxConnsPerHost int
	// RequestTimeout bounds one request, slot wait excluded (default 10s).
	RequestTimeout time.Duration
	// DialTimeout bounds TCP connect plus TLS handshake (default 10s).
	DialTimeout time.Duration
	// IdleConnTimeout closes connections idle that long (default 90s).
	IdleConnTimeout time.Duration
	// PingTimeout closes an HTTP/2 connection whose health-check PING is not
	// answered in time (default 5s; PINGs are sent after PingTimeout*3 of
	// silence).
	PingTimeout time.Duration
	// MaxTTL caps the TTL header (default four weeks); a notification
	// without expiry gets it.
	MaxTTL time.Duration
	// RecordSize is the size every encrypted body is padded to (default
	// 4096, at least 128). The largest payload is RecordSize-103 bytes.
	RecordSize int

	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// Metrics records request durations and in-flight requests; nil
	// records nothing.
	Metrics *provider.Metrics
}

func (c Config) withDefaults() Config {
	c.MaxInFlight = cmp.Or(c.MaxInFlight, DefaultMaxInFlight)
	c.RequestTimeout = cmp.Or(c.RequestTimeout, DefaultRequestTimeout)
	c.DialTimeout = cmp.Or(c.DialTimeout, DefaultDialTimeout)
	c.IdleConnTimeout = cmp.Or(c.IdleConnTimeout, DefaultIdleConnTimeout)
	c.PingTimeout = cmp.Or(c.PingTimeout, DefaultPingTimeout)
	c.MaxTTL = cmp.Or(c.MaxTTL, DefaultMaxTTL)
	c.RecordSize = cmp.Or(c.RecordSize, DefaultRecordSize)
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	return c
}

// Validate reports the first invalid field. Zero values are valid.
func (c *Config) Validate() error {
	for name, n := range map[string]int{"MaxInFlight": c.MaxInFlight, "MaxConnsPerHost": c.MaxConnsPerHost} {
		if n < 0 {
			return fmt.Errorf("webpush config: %s must not be negative, got %d", name, n)
		}
	}
	for name, d := range map[string]time.Duration{
		"RequestTimeout": c.RequestTimeout, "DialTimeout": c.DialTimeout, "IdleConnTimeout": c.IdleConnTimeout,
		"PingTimeout": c.PingTimeout, "MaxTTL": c.MaxTTL,
	} {
		if d < 0 {
			return fmt.Errorf("webpush config: %s must not be negative, got %v", name, d)
		}
	}
	if c.RecordSize != 0 && (c.RecordSize < 128 || c.RecordSize > DefaultRecordSize) {
		return fmt.Errorf("webpush config: RecordSize must be between 128 and %d, got %d", DefaultRecordSize, c.RecordSize)
	}
	return nil
}

// MaxPayload is the largest notification payload (the JSON the service
// worker receives) that fits a record of recordSize bytes: the header,
// the padding delimiter and the 16-byte GCM tag take the rest.
func MaxPayload(recordSize int) int { return recordSize - headerLen - 1 - 16 }

// AppConfig is one app's VAPID identity (RFC 8292). Browsers bind each
// subscription to the public key the page subscribed with
// (applicationServerKey), so changing the key orphans every subscription.
type AppConfig struct {
	// PublicKey is the VAPID public key: the 65-byte uncompressed P-256
	// point, base64url (what the page passes as applicationServerKey).
	PublicKey string `json:"public_key"`
	// PrivateKey is the 32-byte P-256 private scalar, base64url (the form
	// webpush-go's GenerateVAPIDKeys and the web-push npm tool print);
	// PrivateKeyFile names a file holding it. Set exactly one.
	PrivateKey     string `json:"private_key,omitempty"`
	PrivateKeyFile string `json:"private_key_file,omitempty"`
	// Subject is the contact the push service may use: a mailto: or
	// https: URI (RFC 8292 section 2.1).
	Subject string `json:"subject"`
}

// Validate checks the fields without reading files.
func (a AppConfig) Validate() error {
	switch {
	case a.PublicKey == "":
		return errors.New("public_key: is required (the VAPID application server key)")
	case a.PrivateKey == "" && a.PrivateKeyFile == "":
		return errors.New("private_key or private_key_file: is required")
	case a.PrivateKey != "" && a.PrivateKeyFile != "":
		return errors.New("private_key, private_key_file: set only one")
	case !strings.HasPrefix(a.Subject, "mailto:") && !strings.HasPrefix(a.Subject, "https:"):
		return fmt.Errorf("subject: want a mailto: or https: URI (RFC 8292 section 2.1), got %q", a.Subject)
	case strings.ContainsAny(a.Subject, " \t\r\n\""):
		return errors.New("subject: must not contain spaces or quotes")
	}
	return nil
}

// vapidKeys is an app's key pair, checked to belong together, in the
// unpadded base64url webpush-go takes.
type vapidKeys struct {
	public, private string
	publicRaw       []byte
	privateRaw      []byte
}

// loadKeys reads the private key (inline or from its file) and checks that
// it is a P-256 scalar whose public point is PublicKey.
func (a AppConfig) loadKeys() (vapidKeys, error) {
	priv := a.PrivateKey
	if a.PrivateKeyFile != "" {
		b, err := os.ReadFile(a.PrivateKeyFile)
		if err != nil {
			return vapidKeys{}, fmt.Errorf("private_key_file: %w", err)
		}
		priv = strings.TrimSpace(string(b))
	}
	privRaw, err := decodeKey(priv)
	if err != nil || len(privRaw) != 32 {
		return vapidKeys{}, errors.New("private_key: want the 32-byte P-256 private key in base64url")
	}
	pk, err := ecdh.P256().NewPrivateKey(privRaw)
	if err != nil {
		return vapidKeys{}, fmt.Errorf("private_key: %v", err)
	}
	pubRaw, err := decodeKey(a.PublicKey)
	if err != nil || len(pubRaw) != p256dhLen {
		return vapidKeys{}, errors.New("public_key: want the 65-byte uncompressed P-256 point in base64url")
	}
	if string(pk.PublicKey().Bytes()) != string(pubRaw) {
		return vapidKeys{}, errors.New("public_key: is not the public key of private_key")
	}
	return vapidKeys{
		public:     base64.RawURLEncoding.EncodeToString(pubRaw),
		private:    base64.RawURLEncoding.EncodeToString(privRaw),
		publicRaw:  pubRaw,
		privateRaw: privRaw,
	}, nil
}
