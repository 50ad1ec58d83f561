package allinone

import (
	"errors"
	"fmt"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
	"github.com/pushfleet/pushfleet/pkg/provider/apns/apnsfake"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm/fcmfake"
	"github.com/pushfleet/pushfleet/pkg/provider/mi"
	"github.com/pushfleet/pushfleet/pkg/provider/mi/mifake"
)

// SandboxApp is the app the sandbox providers know.
const SandboxApp = "demo"

// sandbox holds the local fake providers and senders configured for them.
type sandbox struct {
	apnsFake *apnsfake.Server
	fcmFake  *fcmfake.Server
	miFake   *mifake.Server
	senders  map[string]provider.Sender
	closers  []func() error
}

// startSandbox starts the three fakes on loopback and builds a sender for
// each, configured for the app "demo". Tokens starting with "dead" are
// reported dead by every fake.
func startSandbox(m *provider.Metrics) (_ *sandbox, err error) {
	sb := &sandbox{senders: map[string]provider.Sender{}}
	defer func() {
		if err != nil {
			sb.close()
		}
	}()
	if sb.apnsFake, err = apnsfake.Start(apnsfake.Options{}); err != nil {
		return nil, fmt.Errorf("sandbox apns: %w", err)
	}
	sb.closers = append(sb.closers, func() error { sb.apnsFake.Close(); return nil })
	acfg := sb.apnsFake.Config()
	acfg.Metrics = m
	app, err := sb.apnsFake.SandboxApp("com.pushfleet.demo")
	if err != nil {
		return nil, fmt.Errorf("sandbox apns: %w", err)
	}
	as, err := apns.New(acfg, map[string]apns.AppConfig{SandboxApp: app})
	if err != nil {
		return nil, fmt.Errorf("sandbox apns: %w", err)
	}
	sb.add("apns", as, as.Close)

	if sb.fcmFake, err = fcmfake.Start(fcmfake.Options{}); err != nil {
		return nil, fmt.Errorf("sandbox fcm: %w", err)
	}
	sb.closers = append(sb.closers, func() error { sb.fcmFake.Close(); return nil })
	fapp, err := sb.fcmFake.SandboxApp(SandboxApp, "pushfleet-demo")
	if err != nil {
		return nil, fmt.Errorf("sandbox fcm: %w", err)
	}
	fcfg := sb.fcmFake.SenderConfig(fcm.Config{})
	fcfg.Metrics = m
	fs, err := fcm.New(fcfg, map[string]fcm.AppConfig{SandboxApp: fapp})
	if err != nil {
		return nil, fmt.Errorf("sandbox fcm: %w", err)
	}
	sb.add("fcm", fs, fs.Close)

	if sb.miFake, err = mifake.Start(mifake.Options{}); err != nil {
		return nil, fmt.Errorf("sandbox mi: %w", err)
	}
	sb.closers = append(sb.closers, func() error { sb.miFake.Close(); return nil })
	mcfg := sb.miFake.SenderConfig()
	mcfg.Metrics = m
	ms, err := mi.New(mcfg, map[string]mi.AppConfig{SandboxApp: sb.miFake.SandboxApp("com.pushfleet.demo")})
	if err != nil {
		return nil, fmt.Errorf("sandbox mi: %w", err)
	}
	sb.add("mi", ms, ms.Close)
	return sb, nil
}

func (sb *sandbox) add(p string, s provider.Sender, closeFn func() error) {
	sb.senders[p] = s
	sb.closers = append(sb.closers, closeFn)
}

// close closes senders before fakes (reverse start order).
func (sb *sandbox) close() error {
	var errs []error
	for i := len(sb.closers) - 1; i >= 0; i-- {
		errs = append(errs, sb.closers[i]())
	}
	return errors.Join(errs...)
}
