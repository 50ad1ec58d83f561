package providers

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"

	"github.com/pushfleet/pushfleet/internal/apps"
	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/config/invalid"
	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// ReloadableSender is a provider sender whose apps can change at run time
// (the apps file is reloaded), with its connections to close: what
// apns.New, fcm.New, mi.New, hms.New and webpush.New return.
type ReloadableSender[T apps.Validator] interface {
	provider.Sender
	UpdateApps(map[string]T) error
	Close() error
}

// Service builds platform p's sender service from the apps file named in
// sc: newSender gets the platform's section, and the file is watched for
// changes. The provider is closed when the service stops.
func Service[T apps.Validator, S ReloadableSender[T]](env *fleet.Env, p events.Platform, sc config.SenderOptions,
	newSender func(map[string]T) (S, error)) (fleet.Service, error) {
	if sc.AppsFile == "" {
		return nil, invalid.Errorf("", "--apps-file is required: it holds the %s credentials of every app", p)
	}
	f, err := apps.Load(sc.AppsFile)
	if err != nil {
		return nil, err
	}
	section, err := apps.Section[T](f, p)
	if err != nil {
		return nil, err
	}
	if len(section) == 0 {
		env.Logger.Warn("no app in the apps file has settings for this platform; jobs will be dead-lettered", "platform", p)
	}
	// The apps of the file get their own metric labels; any other name a
	// job carries is counted under one fixed label.
	env.Metrics.SetKnownApps(appNames(f))
	s, err := newSender(section)
	if err != nil {
		return nil, err
	}
	svc, err := env.SenderService(p, s, sc)
	if err != nil {
		s.Close()
		return nil, err
	}
	env.Health.AddCheck("credentials", func() error { return nil }) // loaded and validated above
	return closing{svc: svc, run: func(ctx context.Context) {
		if sc.AppsReload > 0 {
			apps.Watch(ctx, sc.AppsFile, sc.AppsReload, p, env.Logger, func(section map[string]T) error {
				if err := s.UpdateApps(section); err != nil {
					return err
				}
				knownApps(env, sc.AppsFile, section)
				return nil
			})
		}
	}, close: s.Close}, nil
}

// appNames lists every app of the apps file, whatever its platforms: the
// processes sharing a metrics registry (the all-in-one) and a file agree.
func appNames(f *apps.File) []string {
	return slices.Sorted(maps.Keys(f.Apps))
}

// knownApps sets the known apps after a reload: the file's apps, read
// again (Watch hands over only this platform's section), or at least the
// section's when the file cannot be read now.
func knownApps[T any](env *fleet.Env, path string, section map[string]T) {
	if f, err := apps.Load(path); err == nil {
		env.Metrics.SetKnownApps(appNames(f))
		return
	}
	env.Metrics.SetKnownApps(slices.Sorted(maps.Keys(section)))
}

// closing runs a service with a side task and closes the provider after it.
type closing struct {
	svc   fleet.Service
	run   func(ctx context.Context)
	close func() error
}

func (c closing) Run(ctx context.Context) error {
	done := make(chan struct{})
	go func() { defer close(done); c.run(ctx) }()
	err := c.svc.Run(ctx)
	<-done
	_ = c.close()
	return err
}

// caFile names a PEM bundle of extra CAs to trust for a provider, e.g. a
// local fake's; empty means the system roots alone.
type caFile string

// finish completes a provider configuration for env: the CA pool, a logger
// and the metrics, then validates it. Its errors wrap config.ErrInvalid.
func (f caFile) finish(env *fleet.Env, component string, roots **x509.CertPool, log **slog.Logger,
	m **provider.Metrics, validate func() error) error {
	pool, err := f.load()
	if err != nil {
		return invalid.Wrap("--"+component+"-ca-file", err)
	}
	*roots, *log, *m = pool, env.Logger.With("component", component), env.Metrics.Provider
	// Provider metrics label apps through the fleet's bound, like every
	// other app label.
	env.Metrics.Provider.SetAppLabel(env.Metrics.App)
	return invalid.Wrap("", validate())
}

func (f caFile) load() (*x509.CertPool, error) {
	if f == "" {
		return nil, nil
	}
	b, err := os.ReadFile(string(f))
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", f)
	}
	return pool, nil
}
