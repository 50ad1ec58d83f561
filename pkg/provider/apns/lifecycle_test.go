package apns_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
	"github.com/pushfleet/pushfleet/pkg/provider/apns/apnsfake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

// TestCloseFailsInFlightWithRetry: Close ends requests in flight at once,
// as Retry, and closes every connection.
func TestCloseFailsInFlightWithRetry(t *testing.T) {
	f := newFixture(t, apnsfake.Options{}, nil)
	f.fake.SetLatency(5 * time.Second)
	done := make(chan []provider.Result)
	go func() { done <- send(t, f.sender, newJob(testApp, tokens(0, 5)...)) }()
	waitFor(t, "pushes in flight", func() bool { return f.fake.InFlight() == 5 })
	start := time.Now()
	f.sender.Close()
	for _, r := range <-done {
		providertest.WantKind(t, r, provider.Retry)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("Send returned %v after Close", el)
	}
	waitFor(t, "connections to close", func() bool { return f.fake.OpenConnections() == 0 })
}

// TestUpdateAppsDrainsInFlight: requests in flight on a replaced pool are
// answered normally; the pool's connection closes afterwards.
func TestUpdateAppsDrainsInFlight(t *testing.T) {
	f := newFixture(t, apnsfake.Options{}, func(c *apns.Config) { c.ConnsPerPool = 1 })
	f.fake.SetLatency(300 * time.Millisecond)
	done := make(chan []provider.Result)
	go func() { done <- send(t, f.sender, newJob(testApp, tokens(0, 5)...)) }()
	waitFor(t, "pushes in flight", func() bool { return f.fake.InFlight() == 5 })
	rotated, _ := f.fake.SandboxApp(testTopic)
	if err := f.sender.UpdateApps(map[string]apns.AppConfig{testApp: rotated}); err != nil {
		t.Fatal(err)
	}
	if n := f.fake.OpenConnections(); n != 1 {
		t.Fatalf("%d open connections while draining, want 1", n)
	}
	for _, r := range <-done {
		providertest.WantKind(t, r, provider.Delivered)
	}
	waitFor(t, "the drained pool to close", func() bool { return f.fake.OpenConnections() == 0 })
}

// TestMetrics: requests are observed by kind, credential errors counted,
// and the in-flight and connection gauges return to zero.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := provider.NewMetrics(reg)
	f := newFixture(t, apnsfake.Options{}, func(c *apns.Config) { c.Metrics = m; c.ConnsPerPool = 2 })
	f.fake.SetDead(token(1))
	f.fake.FailNext(1, providertest.AuthFailure, 0)
	send(t, f.sender, newJob(testApp, token(0)))
	f.fake.SetLatency(20 * time.Millisecond)
	send(t, f.sender, newJob(testApp, tokens(1, 20)...))

	for name, want := range map[string]float64{
		"pushfleet_provider_connections_open":        2,
		"pushfleet_provider_requests_in_flight":      0,
		"pushfleet_provider_credential_errors_total": 1,
	} {
		if got := metricValue(t, reg, name, ""); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	for kind, want := range map[string]float64{"credential_error": 1, "invalid_token": 1, "delivered": 19} {
		if got := metricValue(t, reg, "pushfleet_provider_request_duration_seconds", kind); got != want {
			t.Errorf("requests of kind %s = %v, want %v", kind, got, want)
		}
	}
	f.sender.Close()
	waitFor(t, "the connection gauge to drop", func() bool {
		return metricValue(t, reg, "pushfleet_provider_connections_open", "") == 0
	})
}

// metricValue sums the named metric's series (those with label kind=kind
// when kind is set): gauge and counter values, histogram sample counts.
func metricValue(t *testing.T, reg *prometheus.Registry, name, kind string) float64 {
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
		for _, m := range mf.GetMetric() {
			match := kind == ""
			for _, l := range m.GetLabel() {
				match = match || l.GetName() == "kind" && l.GetValue() == kind
			}
			if !match {
				continue
			}
			sum += m.GetGauge().GetValue() + m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}
