// Package sandbox runs the three providers' faithful fakes on loopback with
// one app, App, configured in each: the providers of the all-in-one when no
// credentials are given, and of the test suites that drive a whole fleet.
// Every fake reports tokens starting with "dead" as unregistered.
package sandbox

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
	"github.com/pushfleet/pushfleet/pkg/provider/apns/apnsfake"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm/fcmfake"
	"github.com/pushfleet/pushfleet/pkg/provider/mi"
	"github.com/pushfleet/pushfleet/pkg/provider/mi/mifake"
)

// App is the app every fake knows.
const App = "demo"

// The app's APNs topic and MiPush package name, and its FCM project.
const (
	bundleID  = "com.pushfleet.demo"
	projectID = "pushfleet-demo"
)

// Providers are the three fakes and App's credentials for each.
type Providers struct {
	APNs *apnsfake.Server
	FCM  *fcmfake.Server
	Mi   *mifake.Server

	APNsApp apns.AppConfig
	FCMApp  fcm.AppConfig
	MiApp   mi.AppConfig
}

// Start starts the three fakes.
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
	}
	return p.Mi.Delivered(tg.Token)
}

// AppsFile writes, in dir, the apps file (--apps-file) that gives App its
// credentials for the three fakes, and returns its path.
func (p *Providers) AppsFile(dir string) (string, error) {
	doc := map[string]any{"apps": map[string]any{App: map[string]any{"apns": p.APNsApp, "fcm": p.FCMApp, "mi": p.MiApp}}}
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
	return []string{pemBody(p.APNsApp.Key), pemBody(sa.PrivateKey), p.MiApp.AppSecret}
}

// Token is the i-th made-up device token of platform pl, in the platform's
// shape (64 hex digits for APNs, an FCM registration token, a MiPush regid);
// dead ones start with "dead". Demos, tests and benchmarks share it.
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
	}
	return fmt.Sprintf("%smi%08d+sandbox/regid=", prefix, i)
}

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
