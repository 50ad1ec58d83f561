package providers_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/health"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/providers"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// appCfg stands in for a provider's AppConfig.
type appCfg struct {
	Secret string `json:"secret"`
}

func (c appCfg) Validate() error {
	if c.Secret == "" {
		return errors.New("secret is required")
	}
	return nil
}

// stub is a provider sender that records its apps.
type stub struct {
	mu   sync.Mutex
	apps map[string]appCfg
}

func (s *stub) Send(_ context.Context, job *events.Job) []provider.Result {
	return provider.All(job.Tokens, provider.Delivered, "", nil)
}

func (s *stub) UpdateApps(a map[string]appCfg) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps = a
	return nil
}

func (s *stub) Close() error { return nil }

// writeFile replaces path atomically, as the apps watcher expects.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func testEnv(t *testing.T) *fleet.Env {
	t.Helper()
	nc, _ := natstest.Connect(t, natstest.RunServer(t))
	js, err := fleet.NewJetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := streams.Provision(context.Background(), js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	log := slog.New(slog.DiscardHandler)
	return &fleet.Env{NC: nc, JS: js, Metrics: m, Health: health.New("127.0.0.1:0", m.Registry, log), Logger: log}
}

// A sender labels metrics with the apps of its apps file, every platform's
// (the processes of an all-in-one share one registry), follows the file
// when it changes, and counts any other app name under one fixed label.
func TestServiceSetsKnownApps(t *testing.T) {
	env := testEnv(t)
	path := filepath.Join(t.TempDir(), "apps.yaml")
	writeFile(t, path, "apps:\n  shop:\n    mi: {secret: s}\n  blog:\n    fcm: {secret: b}\n")
	st := &stub{}
	svc, err := providers.Service(env, events.Mi, config.SenderOptions{AppsFile: path, AppsReload: 10 * time.Millisecond},
		func(a map[string]appCfg) (*stub, error) { st.apps = a; return st, nil })
	if err != nil {
		t.Fatal(err)
	}
	for app, want := range map[string]string{"shop": "shop", "blog": "blog", "intruder": metrics.AppOther} {
		if got := env.Metrics.App(app); got != want {
			t.Fatalf("label of %q = %q, want %q", app, got, want)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	// Written again until seen: the watcher may start after a first write.
	n := 0
	natstest.Eventually(t, 10*time.Second, func() bool {
		if n%20 == 0 {
			writeFile(t, path, fmt.Sprintf("# %d\napps:\n  shop:\n    mi: {secret: s}\n  news:\n    mi: {secret: news-secret}\n", n))
		}
		n++
		return env.Metrics.App("news") == "news"
	}, "an app added to the apps file did not get its own label")
	if got := env.Metrics.App("blog"); got != metrics.AppOther {
		t.Fatalf("label of a removed app = %q, want %q", got, metrics.AppOther)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.apps["news"]; !ok {
		t.Fatalf("sender apps %v, want the reloaded section", st.apps)
	}
}

// The provider metrics' app label goes through the same bound.
func TestProviderMetricsAppLabelBounded(t *testing.T) {
	env := testEnv(t)
	path := filepath.Join(t.TempDir(), "apps.yaml")
	writeFile(t, path, "apps:\n  shop:\n    mi: {package_name: com.example.shop, app_secret: s3cret, region: china}\n")
	var f providers.MiFlags
	if _, err := f.Service(env, config.SenderOptions{AppsFile: path}); err != nil {
		t.Fatal(err)
	}
	env.Metrics.Provider.ObserveRequest("mi", "shop", provider.Delivered, time.Millisecond)
	env.Metrics.Provider.ObserveRequest("mi", "intruder", provider.Delivered, time.Millisecond)
	mfs, err := env.Metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != "pushfleet_provider_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "app" {
					labels[l.GetValue()] = true
				}
			}
		}
	}
	if len(labels) != 2 || !labels["shop"] || !labels[metrics.AppOther] {
		t.Fatalf("provider metric app labels %v, want shop and %s", labels, metrics.AppOther)
	}
}
