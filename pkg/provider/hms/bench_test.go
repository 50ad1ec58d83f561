package hms_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/hms/hmsfake"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSend sends whole 1,000-token jobs (one request each) through
// the Sender to the fake over loopback TLS. It reports notifications/s and
// the CPU per notification of the whole process (sender and fake
// together: an upper bound for the sender alone).
func BenchmarkSend(b *testing.B) {
	for _, bc := range []struct {
		tokens, parallel int
		http1            bool
	}{
		{1000, 4, false}, {1000, 4, true}, {1, 64, false},
	} {
		b.Run(fmt.Sprintf("tokens=%d/h2=%v", bc.tokens, !bc.http1), func(b *testing.B) {
			s, fake := setup(b, hmsfake.Options{HTTP1Only: bc.http1}, nil)
			job := testJob(tokens(0, bc.tokens)...)
			fake.SetDead(job.Tokens[0])
			ctx := context.Background()
			b.SetParallelism(bc.parallel)
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					rs := s.Send(ctx, job)
					if last := rs[len(rs)-1]; bc.tokens > 1 && last.Kind != provider.Delivered {
						b.Errorf("%v %q %v", last.Kind, last.Reason, last.Err)
						return
					}
				}
			})
			b.StopTimer()
			notifs := float64(b.N * bc.tokens)
			b.ReportMetric(notifs/b.Elapsed().Seconds(), "notifs/s")
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/notifs, "cpu-µs/notif")
		})
	}
}
