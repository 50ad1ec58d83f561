package clustertest

import (
	"fmt"
	"testing"

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

// Token is the i-th test token of platform p, in the platform's format;
// dead tokens start with "dead", which every fake answers as unregistered.
func Token(p events.Platform, i int, dead bool) string {
	prefix := ""
	if dead {
		prefix = "dead"
	}
	switch p {
	case events.APNs:
		return prefix + fmt.Sprintf("%064x", i)[len(prefix):]
	case events.FCM:
		return fmt.Sprintf("%sfcm%08d:APA91b-cluster-token", prefix, i)
	}
	return fmt.Sprintf("%smi%08d+cluster/regid=", prefix, i)
}
