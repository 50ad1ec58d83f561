package health_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pushfleet/pushfleet/internal/health"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEndpoints(t *testing.T) {
	m := metrics.New()
	m.Notifications.WithLabelValues("apns", "demo", "delivered").Add(3)
	m.IntentToProvider.WithLabelValues("apns").Observe(0.02)
	m.Provider.ObserveRequest("apns", "demo", provider.Delivered, 5*time.Millisecond)
	s := health.New("127.0.0.1:0", m.Registry, slog.New(slog.DiscardHandler))
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(t.Context())
	var failing error = errors.New("consumer not bound")
	s.AddCheck("dispatcher", func() error { return failing })

	code, body := get(t, s.URL()+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics is not valid Prometheus text format: %v", err)
	}
	for _, name := range []string{"pushfleet_notifications_total", "pushfleet_intent_to_provider_seconds",
		"pushfleet_provider_request_duration_seconds", "go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if got := fams["pushfleet_notifications_total"].GetMetric()[0].GetCounter().GetValue(); got != 3 {
		t.Errorf("notifications = %v, want 3", got)
	}

	if code, _ := get(t, s.URL()+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d", code)
	}
	if code, body := get(t, s.URL()+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "dispatcher: consumer not bound") {
		t.Fatalf("/readyz with a failing check: %d %q", code, body)
	}
	failing = nil
	if code, _ := get(t, s.URL()+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz with passing checks: %d", code)
	}
	s.Stopping()
	if code, _ := get(t, s.URL()+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while stopping: %d", code)
	}
	if code, _ := get(t, s.URL()+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz must stay up while stopping: %d", code)
	}
}

// Checks added while /readyz is being served (services register theirs
// after Start) are no data race: run with -race.
func TestAddCheckWhileServingReadyz(t *testing.T) {
	s := health.New("127.0.0.1:0", metrics.New().Registry, slog.New(slog.DiscardHandler))
	h := s.Handler()
	s.AddCheck("first", func() error { return nil })
	start := make(chan struct{})
	added := make(chan struct{})
	go func() {
		defer close(added)
		<-start
		for i := range 2000 {
			s.AddCheck(fmt.Sprintf("check-%d", i), func() error { return nil })
			runtime.Gosched()
		}
	}()
	close(start)
	for {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("/readyz: %d %s", rec.Code, rec.Body)
		}
		select {
		case <-added:
			return
		default:
		}
	}
}
