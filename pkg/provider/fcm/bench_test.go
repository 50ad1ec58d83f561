package fcm_test

import (
	"context"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm/fcmfake"
)

// BenchmarkSender measures the whole sender against fcmfake over loopback
// TLS + HTTP/2: SDK, OAuth transport, the fake's validation and answers.
// notif/s is notifications delivered per second of wall time; cpu-µs/notif
// is process CPU (user+system) per notification and includes the in-process
// fake, so it overstates the sender alone.
func BenchmarkSender(b *testing.B) {
	for _, bc := range []struct {
		name        string
		tokens      int
		parallelism int // goroutines per GOMAXPROCS
	}{
		{"tokens=500", 500, 2},
		{"tokens=1", 1, 32},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := startFake(b, fcmfake.Options{})
			s := newSender(b, f, fcm.Config{RatePerMinute: 1 << 30, BatchTimeout: time.Minute},
				map[string]fcm.AppConfig{"app": sandboxApp(b, f, "app", "proj")})
			// Warm up: token fetch, connections.
			send(b, s, newJob("app", tokens(0, bc.tokens)...), 10*time.Second)
			var sent, failed atomic.Int64
			var seq atomic.Int64
			cpu0 := cpuTime()
			start := time.Now()
			b.ResetTimer()
			b.SetParallelism(bc.parallelism)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					j := newJob("app", tokens(int(seq.Add(1)%64)*bc.tokens, bc.tokens)...)
					for _, r := range s.Send(context.Background(), j) {
						if r.Kind != provider.Delivered {
							failed.Add(1)
						}
					}
					sent.Add(int64(bc.tokens))
				}
			})
			b.StopTimer()
			el, cpu := time.Since(start), cpuTime()-cpu0
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d notifications not delivered", n)
			}
			n := float64(sent.Load())
			b.ReportMetric(n/el.Seconds(), "notif/s")
			b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/notif")
		})
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
