// Package sandbox runs the five providers' faithful fakes on loopback with
// one app, App, configured in each: the providers of the all-in-one when no
// credentials are given, and of the test suites that drive a whole fleet.
// Every fake reports tokens starting with "dead" as unregistered, except
// Web Push's, whose tokens are subscriptions the fake hands out
// (Providers.Token): dead ones answer 410 Gone.
package sandbox

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
	"github.com/pushfleet/pushfleet/pkg/provider/apns/apnsfake"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm/fcmfake"
	"github.com/pushfleet/pushfleet/pkg/provider/hms"
	"github.com/pushfleet/pushfleet/pkg/provider/hms/hmsfake"
	"github.com/pushfleet/pushfleet/pkg/provider/mi"
	"github.com/pushfleet/pushfleet/pkg/provider/mi/mifake"
	"github.com/pushfleet/pushfleet/pkg/provider/webpush"
	"github.com/pushfleet/pushfleet/pkg/provider/webpush/webpushfake"
)

// App is the app every fake knows.
const App = "demo"

// The app's APNs topic and MiPush package name, and its FCM project.
const (
	bundleID  = "com.pushfleet.demo"
	projectID = "pushfleet-demo"
)

// Providers are the five fakes and App's credentials for each.
type Providers struct {
	APNs    *apnsfake.Server
	FCM     *fcmfake.Server
	Mi      *mifake.Server
	HMS     *hmsfake.Server
	WebPush *webpushfake.Server

	APNsApp    apns.AppConfig
	FCMApp     fcm.AppConfig
	MiApp      mi.AppConfig
	HMSApp     hms.AppConfig
	WebPushApp webpush.AppConfig

	// vapidPublic is WebPushApp's public key, raw: what subscriptions are
	// bound to.
	vapidPublic []byte
	subsMu      sync.Mutex
	subs        map[subKey]string // Web Push demo subscriptions, by Token's arguments
}

type subKey struct {
	i    int
	dead bool
}

// Start starts the five fakes.
func Start() (_ *Providers, err error) {
	p := &Providers{}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if p.APNs, err = apnsfake.Start(apnsfake.Options{}); err != nil {
		return nil, fmt.Errorf("sandbox apns: %w", err)
	}
	if p.APNsApp, err = p.APNs.SandboxApp(bundleID); err != nil {
		return nil, fmt.Errorf("sandbox apns: %w", err)
	}
	if p.FCM, err = fcmfake.Start(fcmfake.Options{}); err != nil {
		return nil, fmt.Errorf("sandbox fcm: %w", err)
	}
	if p.FCMApp, err = p.FCM.SandboxApp(App, projectID); err != nil {
		return nil, fmt.Errorf("sandbox fcm: %w", err)
	}
	if p.Mi, err = mifake.Start(mifake.Options{}); err != nil {
		return nil, fmt.Errorf("sandbox mi: %w", err)
	}
	p.MiApp = p.Mi.SandboxApp(bundleID)
	if p.HMS, err = hmsfake.Start(hmsfake.Options{}); err != nil {
		return nil, fmt.Errorf("sandbox hms: %w", err)
	}
	p.HMSApp = p.HMS.SandboxApp()
	if p.WebPush, err = webpushfake.Start(webpushfake.Options{}); err != nil {
		return nil, fmt.Errorf("sandbox webpush: %w", err)
	}
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sandbox webpush: %w", err)
	}
	p.vapidPublic = key.PublicKey().Bytes()
	p.WebPushApp = webpush.AppConfig{
		PublicKey:  base64.RawURLEncoding.EncodeToString(p.vapidPublic),
		PrivateKey: base64.RawURLEncoding.EncodeToString(key.Bytes()),
		Subject:    "mailto:sandbox@pushfleet.invalid",
	}
	p.subs = map[subKey]string{}
	return p, nil
}

// Close stops the fakes that were started.
func (p *Providers) Close() {
	if p.APNs != nil {
		p.APNs.Close()
	}
	if p.FCM != nil {
		p.FCM.Close()
	}
	if p.Mi != nil {
		p.Mi.Close()
	}
	if p.HMS != nil {
		p.HMS.Close()
	}
	if p.WebPush != nil {
		p.WebPush.Close()
	}
}

// SenderCloser is a provider sender, pointed at a fake, with its
// connections to close (as io.ReadCloser is a Reader with Close).
type SenderCloser interface {
	provider.Sender
	Close() error
}

// SenderConfig tunes the senders NewSender builds. Zero values are the fakes'
// own configurations.
type SenderConfig struct {
	Metrics *provider.Metrics
	// Logger, if set, gets a "component" attribute naming the platform.
	Logger *slog.Logger
	// APNs replaces the APNs fake's configuration (to go through a proxy).
	APNs *apns.Config
}

// NewSender builds a new sender for platform pl against its fake, with its own
// connections, as one replica of a sender service has.
func (p *Providers) NewSender(pl events.Platform, c SenderConfig) (SenderCloser, error) {
	if c.Logger != nil {
		c.Logger = c.Logger.With("component", string(pl))
	}
	switch pl {
	case events.APNs:
		cfg := p.APNs.Config()
		if c.APNs != nil {
			cfg = *c.APNs
		}
		cfg.Metrics, cfg.Logger = c.Metrics, c.Logger
		return apns.New(cfg, map[string]apns.AppConfig{App: p.APNsApp})
	case events.FCM:
		cfg := p.FCM.SenderConfig(fcm.Config{})
		cfg.Metrics, cfg.Logger = c.Metrics, c.Logger
		return fcm.New(cfg, map[string]fcm.AppConfig{App: p.FCMApp})
	case events.Mi:
		cfg := p.Mi.SenderConfig()
		cfg.Metrics, cfg.Logger = c.Metrics, c.Logger
		return mi.New(cfg, map[string]mi.AppConfig{App: p.MiApp})
	case events.HMS:
		cfg := p.HMS.SenderConfig()
		cfg.Metrics, cfg.Logger = c.Metrics, c.Logger
		return hms.New(cfg, map[string]hms.AppConfig{App: p.HMSApp})
	case events.WebPush:
		cfg := webpush.Config{RootCAs: p.WebPush.CertPool(), Metrics: c.Metrics, Logger: c.Logger}
		return webpush.New(cfg, map[string]webpush.AppConfig{App: p.WebPushApp})
	}
	return nil, fmt.Errorf("sandbox: unknown platform %q", pl)
}

// Delivered is how many times the fake of tg's platform accepted tg's token.
func (p *Providers) Delivered(tg events.Target) int {
	switch tg.Platform {
	case events.APNs:
		return p.APNs.Delivered(tg.Token)
	case events.FCM:
		return p.FCM.Delivered(tg.Token)
	case events.HMS:
		return p.HMS.Delivered(tg.Token)
	case events.WebPush:
		return p.WebPush.Delivered(tg.Token)
	}
	return p.Mi.Delivered(tg.Token)
}

// Token is the i-th made-up device token of platform pl for these fakes:
// the package's Token, except for Web Push, where it is a subscription the
// fake handed out (SubscribeGone for a dead one: it answers 410), made on
// first use and the same for the same arguments afterwards.
func (p *Providers) Token(pl events.Platform, i int, dead bool) string {
	if pl != events.WebPush {
		return Token(pl, i, dead)
	}
	p.subsMu.Lock()
	defer p.subsMu.Unlock()
	k := subKey{i, dead}
	if t, ok := p.subs[k]; ok {
		return t
	}
	subscribe := p.WebPush.Subscribe
	if dead {
		subscribe = p.WebPush.SubscribeGone
	}
	t, err := subscribe(p.vapidPublic)
	if err != nil { // only for a bad key, and the key is ours
		panic("sandbox: webpush subscribe: " + err.Error())
	}
	p.subs[k] = t
	return t
}

// AppsFile writes, in dir, the apps file (--apps-file) that gives App its
// credentials for the five fakes, and returns its path.
func (p *Providers) AppsFile(dir string) (string, error) {
	doc := map[string]any{"apps": map[string]any{App: map[string]any{"apns": p.APNsApp, "fcm": p.FCMApp, "mi": p.MiApp,
		"hms": p.HMSApp, "webpush": p.WebPushApp}}}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	return writeFile(dir, "apps.json", b)
}

// SenderArgs are the provider flags that point platform pl's sender binary
// at its fake (the fake's CA written in dir), with the apps file.
func (p *Providers) SenderArgs(pl events.Platform, dir, appsFile string) ([]string, error) {
	args := []string{"--apps-file", appsFile}
	switch pl {
	case events.APNs:
		ca, err := writeFile(dir, "apns-ca.pem", p.APNs.CertPEM())
		return append(args, "--apns-production-url", p.APNs.URL(), "--apns-sandbox-url", p.APNs.URL(), "--apns-ca-file", ca), err
	case events.FCM:
		ca, err := writePeerCert(dir, "fcm-ca.pem", p.FCM.URL())
		return append(args, "--fcm-endpoint", p.FCM.Endpoint(), "--fcm-ca-file", ca), err
	case events.Mi:
		ca, err := writePeerCert(dir, "mi-ca.pem", p.Mi.URL())
		return append(args, "--mi-url", p.Mi.URL(), "--mi-ca-file", ca), err
	case events.HMS:
		ca, err := writePeerCert(dir, "hms-ca.pem", p.HMS.URL())
		return append(args, "--hms-url", p.HMS.URL(), "--hms-token-url", p.HMS.TokenURL(), "--hms-ca-file", ca), err
	case events.WebPush:
		ca, err := writePeerCert(dir, "webpush-ca.pem", p.WebPush.URL())
		return append(args, "--webpush-ca-file", ca), err
	}
	return nil, fmt.Errorf("sandbox: unknown platform %q", pl)
}

// Secrets are pieces of App's provider credentials, for checks that they
// never appear in logs: the base64 of the two private keys (whatever line
// breaks a log gives them) and the MiPush app secret.
func (p *Providers) Secrets() []string {
	var sa struct {
		PrivateKey string `json:"private_key"`
	}
	_ = json.Unmarshal([]byte(p.FCMApp.CredentialsJSON), &sa)
	pemBody := func(s string) string {
		var b strings.Builder
		for _, l := range strings.Split(s, "\n") {
			if !strings.HasPrefix(l, "-----") {
				b.WriteString(strings.TrimSpace(l))
			}
		}
		return b.String()[:40]
	}
	return []string{pemBody(p.APNsApp.Key), pemBody(sa.PrivateKey), p.MiApp.AppSecret, p.HMSApp.ClientSecret, p.WebPushApp.PrivateKey}
}

// Token is the i-th made-up device token of platform pl, in the platform's
// shape (64 hex digits for APNs, an FCM registration token, a MiPush regid,
// a Push Kit token); dead ones start with "dead". Demos, tests and
// benchmarks share it. A Web Push token is a subscription only a running
// fake can make: Token gives one of the right shape whose endpoint no
// fake serves; use Providers.Token to reach the sandbox's.
func Token(pl events.Platform, i int, dead bool) string {
	prefix := ""
	if dead {
		prefix = "dead"
	}
	switch pl {
	case events.APNs:
		return prefix + fmt.Sprintf("%064x", i)[len(prefix):]
	case events.FCM:
		return fmt.Sprintf("%sfcm%08d:APA91b-sandbox-token", prefix, i)
	case events.HMS:
		return fmt.Sprintf("%sIQAAAACy0%08d-sandbox-hms-token", prefix, i)
	case events.WebPush:
		return fmt.Sprintf(`{"endpoint":"https://webpush.sandbox.invalid/push/%s%d","keys":{"p256dh":"%s","auth":"%s"}}`,
			prefix, i, sandboxP256dh, "c2FuZGJveC1hdXRoLTE2Qg")
	}
	return fmt.Sprintf("%smi%08d+sandbox/regid=", prefix, i)
}

// sandboxP256dh is a valid P-256 point (the generator), base64url: the
// keys of Token's unreachable Web Push subscriptions.
const sandboxP256dh = "BGsX0fLhLEJH-Lzm5WOkQPJ3A32BLeszoPShOUXYmMKWT-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU"

func writeFile(dir, name string, b []byte) (string, error) {
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, b, 0o600)
}

// writePeerCert writes PeerCertPEM(rawURL) to dir/name.
func writePeerCert(dir, name, rawURL string) (string, error) {
	b, err := PeerCertPEM(rawURL)
	if err != nil {
		return "", err
	}
	return writeFile(dir, name, b)
}

// PeerCertPEM is the certificate chain the TLS server at rawURL presents,
// as PEM: the fakes keep their CA in a CertPool, and a fleet in another
// process needs a file to trust. Only for the fakes this process started.
func PeerCertPEM(rawURL string) ([]byte, error) {
	host := strings.TrimPrefix(rawURL, "https://")
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", host,
		&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // fetching the fake's own self-signed certificate
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var out []byte
	for _, c := range conn.ConnectionState().PeerCertificates {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if len(out) == 0 {
		return nil, errors.New(rawURL + " presented no certificate")
	}
	return out, nil
}
