package provider_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

// appLabels returns the app label values of family name.
func appLabels(t *testing.T, reg *prometheus.Registry, name string) map[string]bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "app" {
					out[l.GetValue()] = true
				}
			}
		}
	}
	return out
}

// SetAppLabel bounds the app label of every provider metric.
func TestMetricsAppLabel(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := provider.NewMetrics(reg)
	m.SetAppLabel(func(app string) string {
		if app == "shop" {
			return app
		}
		return "_other"
	})
	for _, app := range []string{"shop", "a", "b", "c"} {
		m.ObserveRequest("apns", app, provider.CredentialError, time.Millisecond)
		m.CountCredentialError("fcm", app)
	}
	for _, name := range []string{"pushfleet_provider_request_duration_seconds", "pushfleet_provider_credential_errors_total"} {
		if got := appLabels(t, reg, name); len(got) != 2 || !got["shop"] || !got["_other"] {
			t.Fatalf("%s app labels %v, want shop and _other", name, got)
		}
	}
	var nilMetrics *provider.Metrics
	nilMetrics.SetAppLabel(nil)
	nilMetrics.CountCredentialError("fcm", "x")
}
