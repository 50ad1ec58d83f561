package metrics_test

import (
	"testing"

	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/version"
)

// Every process's registry exports pushfleet_build_info = 1 with the
// running build's version, revision and Go version.
func TestBuildInfo(t *testing.T) {
	f := metrics.New()
	mfs, err := f.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := version.Get()
	for _, mf := range mfs {
		if mf.GetName() != "pushfleet_build_info" {
			continue
		}
		if len(mf.GetMetric()) != 1 {
			t.Fatalf("want one series, got %d", len(mf.GetMetric()))
		}
		m := mf.GetMetric()[0]
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if len(labels) != 3 || labels["version"] != want.Version || labels["revision"] != want.Revision || labels["go"] != want.Go {
			t.Errorf("labels %v, want version %q, revision %q, go %q", labels, want.Version, want.Revision, want.Go)
		}
		if v := m.GetGauge().GetValue(); v != 1 {
			t.Errorf("value %v, want 1", v)
		}
		return
	}
	t.Fatal("pushfleet_build_info is not exported")
}
