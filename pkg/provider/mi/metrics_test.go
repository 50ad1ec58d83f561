package mi_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/mi"
	"github.com/pushfleet/pushfleet/pkg/provider/mi/mifake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

// gather returns the value (gauges) or sample count (histograms) of every
// series of the family name, keyed by the joined label values.
func gather(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			key := ""
			for _, l := range m.GetLabel() {
				key += l.GetValue() + "/"
			}
			switch {
			case m.Gauge != nil:
				out[key] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[key] = float64(m.GetHistogram().GetSampleCount())
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, fake := setup(t, mifake.Options{}, func(c *mi.Config) { c.Metrics = provider.NewMetrics(reg) })
	send(t, s, testJob(regid(1), regid(2)))
	fake.FailNext(1, providertest.AuthFailure, 0)
	send(t, s, testJob(regid(3)))

	req := gather(t, reg, "pushfleet_provider_request_duration_seconds")
	if req["demo/delivered/mi/"] != 1 || req["demo/credential_error/mi/"] != 1 {
		t.Fatalf("request histogram %v", req)
	}
	if c := gather(t, reg, "pushfleet_provider_credential_errors_total"); c["demo/mi/"] != 1 {
		t.Fatalf("credential errors %v", c)
	}
	if f := gather(t, reg, "pushfleet_provider_requests_in_flight"); f["mi/"] != 0 {
		t.Fatalf("in flight %v after every request finished", f)
	}
	if c := gather(t, reg, "pushfleet_provider_connections_open"); c["mi/"] != 1 {
		t.Fatalf("open connections %v, want 1 (HTTP/2)", c)
	}
}

// TestPollsAreNotDeliveries: a poll of the invalid-regid feed delivers
// nothing and is not a push: it must not count as a delivered request, nor
// its rejected secret as a credential error of the pushes.
func TestPollsAreNotDeliveries(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, fake := setup(t, mifake.Options{}, func(c *mi.Config) { c.Metrics = provider.NewMetrics(reg) })
	fake.AddInvalidForPoll(regids(0, 3)...)
	if got, err := s.PollInvalid(t.Context(), testApp); err != nil || len(got) != 3 {
		t.Fatalf("poll: %d regids, %v", len(got), err)
	}
	if err := s.UpdateApps(map[string]mi.AppConfig{testApp: {PackageName: "com.example.demo", AppSecret: "wrong"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PollInvalid(t.Context(), testApp); err == nil {
		t.Fatal("poll with a wrong secret succeeded")
	}
	if req := gather(t, reg, "pushfleet_provider_request_duration_seconds"); len(req) != 0 {
		t.Fatalf("request histogram %v after polls only, want empty", req)
	}
	if c := gather(t, reg, "pushfleet_provider_credential_errors_total"); len(c) != 0 {
		t.Fatalf("credential errors %v after polls only, want none", c)
	}
}
