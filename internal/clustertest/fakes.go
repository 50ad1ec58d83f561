package clustertest

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

// Fakes are the three providers' faithful fakes on loopback, each with App
// configured.
type Fakes struct {
	APNs *apnsfake.Server
	FCM  *fcmfake.Server
	Mi   *mifake.Server

	apnsApp apns.AppConfig
	fcmApp  fcm.AppConfig
	miApp   mi.AppConfig
}

// StartFakes starts the fakes; they are closed at the end of the test.
func StartFakes(t testing.TB) *Fakes {
	t.Helper()
	f := &Fakes{}
	var err error
	if f.APNs, err = apnsfake.Start(apnsfake.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.APNs.Close)
	if f.apnsApp, err = f.APNs.SandboxApp("com.pushfleet.demo"); err != nil {
		t.Fatal(err)
	}
	if f.FCM, err = fcmfake.Start(fcmfake.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.FCM.Close)
	if f.fcmApp, err = f.FCM.SandboxApp(App, "pushfleet-demo"); err != nil {
		t.Fatal(err)
	}
	if f.Mi, err = mifake.Start(mifake.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Mi.Close() })
	f.miApp = f.Mi.SandboxApp("com.pushfleet.demo")
	return f
}

// Sender builds a new provider sender for platform p against its fake, with
// its own connections, as one replica of a sender service has. It is closed
// at the end of the test.
func (f *Fakes) Sender(t testing.TB, p events.Platform, m *provider.Metrics) provider.Sender {
	t.Helper()
	var s interface {
		provider.Sender
		Close() error
	}
	var err error
	switch p {
	case events.APNs:
		cfg := f.APNs.Config()
		cfg.Metrics = m
		s, err = apns.New(cfg, map[string]apns.AppConfig{App: f.apnsApp})
	case events.FCM:
		cfg := f.FCM.SenderConfig(fcm.Config{})
		cfg.Metrics = m
		s, err = fcm.New(cfg, map[string]fcm.AppConfig{App: f.fcmApp})
	case events.Mi:
		cfg := f.Mi.SenderConfig()
		cfg.Metrics = m
		s, err = mi.New(cfg, map[string]mi.AppConfig{App: f.miApp})
	default:
		err = fmt.Errorf("unknown platform %q", p)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Delivered is how many times the fake of tg's platform accepted tg's token.
func (f *Fakes) Delivered(tg events.Target) int {
	switch tg.Platform {
	case events.APNs:
		return f.APNs.Delivered(tg.Token)
	case events.FCM:
		return f.FCM.Delivered(tg.Token)
	}
	return f.Mi.Delivered(tg.Token)
}

// AppsFile writes the apps file (--apps-file) that gives App valid
// credentials for the three fakes, in dir.
func (f *Fakes) AppsFile(t testing.TB, dir string) string {
	t.Helper()
	doc := map[string]any{"apps": map[string]any{App: map[string]any{"apns": f.apnsApp, "fcm": f.fcmApp, "mi": f.miApp}}}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, "apps.json", b)
}

// Secrets are the provider credentials of App, for checks that they never
// appear in logs.
func (f *Fakes) Secrets() []string {
	var sa struct {
		PrivateKey string `json:"private_key"`
	}
	_ = json.Unmarshal([]byte(f.fcmApp.CredentialsJSON), &sa)
	pemBody := func(s string) string { // the base64 lines, whatever the line breaks become in a log
		var b strings.Builder
		for _, l := range strings.Split(s, "\n") {
			if !strings.HasPrefix(l, "-----") {
				b.WriteString(strings.TrimSpace(l))
			}
		}
		return b.String()[:40]
	}
	return []string{pemBody(f.apnsApp.Key), pemBody(sa.PrivateKey), f.miApp.AppSecret}
}

// SenderArgs are the provider flags of platform p's sender binary pointing
// it at its fake (URLs and the fake's CA written in dir), with the apps file.
func (f *Fakes) SenderArgs(t testing.TB, p events.Platform, dir, appsFile string) []string {
	t.Helper()
	args := []string{"--apps-file", appsFile}
	switch p {
	case events.APNs:
		ca := writeFile(t, dir, "apns-ca.pem", f.APNs.CertPEM())
		return append(args, "--apns-production-url", f.APNs.URL(), "--apns-sandbox-url", f.APNs.URL(), "--apns-ca-file", ca)
	case events.FCM:
		ca := writeFile(t, dir, "fcm-ca.pem", peerCertPEM(t, f.FCM.URL()))
		return append(args, "--fcm-endpoint", f.FCM.Endpoint(), "--fcm-ca-file", ca)
	}
	ca := writeFile(t, dir, "mi-ca.pem", peerCertPEM(t, f.Mi.URL()))
	return append(args, "--mi-url", f.Mi.URL(), "--mi-ca-file", ca)
}

func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// peerCertPEM fetches the certificate chain a TLS server presents, as PEM:
// for fakes that hand out a CertPool but not the PEM a process needs.
func peerCertPEM(t testing.TB, rawURL string) []byte {
	t.Helper()
	host := strings.TrimPrefix(rawURL, "https://")
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", host,
		&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // fetching the fake's own self-signed certificate
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var out []byte
	for _, c := range conn.ConnectionState().PeerCertificates {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if len(out) == 0 {
		t.Fatalf("%s presented no certificate", rawURL)
	}
	return out
}
