package fcm_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm/fcmfake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

// metricValue sums the samples of metric name whose labels include want.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue metrics
				}
			}
			switch {
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

// TestMetrics checks request durations by kind (one per HTTP request, not
// per batch), the credential error counter, in-flight requests and open
// connections.
func TestMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	f := startFake(t, fcmfake.Options{})
	s, err := fcm.New(f.SenderConfig(fcm.Config{Metrics: provider.NewMetrics(reg)}),
		map[string]fcm.AppConfig{"app": sandboxApp(t, f, "app", "proj")})
	if err != nil {
		t.Fatal(err)
	}
	send(t, s, newJob("app", tokens(0, 20)...), 5*time.Second)
	f.FailNext(1, providertest.AuthFailure, 0)
	send(t, s, newJob("app", token(99)), 5*time.Second)

	fcmLabels := map[string]string{"platform": "fcm"}
	if n := metricValue(t, reg, "pushfleet_provider_request_duration_seconds", map[string]string{"platform": "fcm", "app": "app", "kind": "delivered"}); n != 20 {
		t.Fatalf("%v delivered observations, want 20 (one per HTTP request, as FCM counts them)", n)
	}
	if n := metricValue(t, reg, "pushfleet_provider_request_duration_seconds", map[string]string{"platform": "fcm"}); int64(n) != f.SendRequests() {
		t.Fatalf("%v request observations, the fake received %d requests", n, f.SendRequests())
	}
	if n := metricValue(t, reg, "pushfleet_provider_credential_errors_total", map[string]string{"platform": "fcm", "app": "app"}); n != 1 {
		t.Fatalf("%v credential errors, want 1", n)
	}
	if n := metricValue(t, reg, "pushfleet_provider_requests_in_flight", fcmLabels); n != 0 {
		t.Fatalf("%v requests in flight after the sends, want 0", n)
	}
	if n := metricValue(t, reg, "pushfleet_provider_connections_open", fcmLabels); n < 1 {
		t.Fatalf("%v open connections, want at least 1", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := metricValue(t, reg, "pushfleet_provider_connections_open", fcmLabels); n != 0 {
		t.Fatalf("%v open connections after Close, want 0", n)
	}
	if r := s.Send(t.Context(), newJob("app", token(1)))[0]; r.Kind != provider.Retry {
		t.Fatalf("send after Close: %v, want retry", r.Kind)
	}
}
