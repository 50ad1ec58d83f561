package metrics_test

import (
	"testing"

	"github.com/pushfleet/pushfleet/internal/metrics"
)

// BenchmarkApp is the bounded app label lookup every per-message metric does.
func BenchmarkApp(b *testing.B) {
	m := metrics.New()
	m.App("bench")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if m.App("bench") != "bench" {
				b.Fatal("label")
			}
		}
	})
}
