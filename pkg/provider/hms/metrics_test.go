package hms_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/hms"
	"github.com/pushfleet/pushfleet/pkg/provider/hms/hmsfake"
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
			for _, l := range m.GetLabel() {
				if v, ok := want[l.GetName()]; ok && v != l.GetValue() {
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

// One observation per push request (a refused token's first request as
// retry), none for token requests; credential errors counted, from the
// token endpoint too; connections and in-flight gauges back to their
// levels.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := startFake(t, hmsfake.Options{})
	app := f.SandboxApp()
	bad := app
	bad.ClientSecret = "wrong"
	s := newSender(t, f, func(c *hms.Config) { c.Metrics = provider.NewMetrics(reg) },
		map[string]hms.AppConfig{testApp: app, "bad": bad})
	const dur = "pushfleet_provider_request_duration_seconds"
	providertest.Send(t, s, testJob(token(1), "dead-1"), 10*time.Second) // partial success: one request, delivered
	f.ExpireTokens()
	sendOK(t, s, token(2)) // refused (retry) + repeated (delivered)
	j := testJob(token(3))
	j.App = "bad"
	providertest.WantKind(t, providertest.Send(t, s, j, 10*time.Second)[0], provider.CredentialError)
	for kind, want := range map[string]float64{"delivered": 2, "retry": 1, "credential_error": 0} {
		if got := metricValue(t, reg, dur, map[string]string{"platform": "hms", "kind": kind}); got != want {
			t.Errorf("%s requests: %v, want %v", kind, got, want)
		}
	}
	if got := metricValue(t, reg, "pushfleet_provider_credential_errors_total", map[string]string{"app": "bad"}); got != 1 {
		t.Errorf("credential errors: %v, want 1 (the token endpoint's refusal)", got)
	}
	if got := metricValue(t, reg, "pushfleet_provider_requests_in_flight", nil); got != 0 {
		t.Errorf("in flight %v after the sends", got)
	}
	if got := metricValue(t, reg, "pushfleet_provider_connections_open", nil); got < 1 {
		t.Errorf("open connections %v, want the kept-alive one", got)
	}
}

// Connections are long-lived and shared by all requests (HTTP/2): bursts
// of sends reuse them instead of dialing.
func TestConnectionsReused(t *testing.T) {
	s, f := setup(t, hmsfake.Options{}, nil)
	f.SetLatency(20 * time.Millisecond)
	burst := func() {
		var wg sync.WaitGroup
		for i := range 150 {
			wg.Go(func() { sendOK(t, s, token(i)) })
		}
		wg.Wait()
	}
	burst()
	first := f.Connections()
	if first > hms.DefaultMaxConnsPerHost {
		t.Fatalf("%d connections for a burst, want at most %d", first, hms.DefaultMaxConnsPerHost)
	}
	burst()
	if n := f.Connections(); n != first {
		t.Fatalf("%d connections after a second burst, %d after the first: connections not reused", n, first)
	}
}

// Empty tokens are refused without a request; the others are sent.
func TestEmptyTokens(t *testing.T) {
	s, f := setup(t, hmsfake.Options{}, nil)
	rs := providertest.Send(t, s, testJob("", token(1), ""), 10*time.Second)
	providertest.WantKind(t, rs[0], provider.Permanent)
	providertest.WantKind(t, rs[1], provider.Delivered)
	providertest.WantKind(t, rs[2], provider.Permanent)
	if !errors.Is(rs[0].Err, provider.ErrBadMessage) {
		t.Fatalf("err %v", rs[0].Err)
	}
	rs = s.Send(context.Background(), testJob(""))
	providertest.WantKind(t, rs[0], provider.Permanent)
	if n := f.Requests(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}
