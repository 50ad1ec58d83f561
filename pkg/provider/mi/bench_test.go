package mi_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/mi/mifake"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSender sends whole jobs through the Sender to the fake over
// loopback TLS. It reports notifications/s and the CPU per notification of
// the whole process (sender and fake together: an upper bound for the
// sender alone).
func BenchmarkSender(b *testing.B) {
	for _, bc := range []struct {
		tokens, parallel int
		http1            bool
	}{
		{1000, 4, false}, {1, 64, false}, {1000, 4, true}, {1, 64, true},
	} {
		name := fmt.Sprintf("regids=%d/h2=%v", bc.tokens, !bc.http1)
		b.Run(name, func(b *testing.B) {
			s, fake := setup(b, mifake.Options{HTTP1Only: bc.http1}, nil)
			job := testJob(regids(0, bc.tokens)...)
			fake.SetDead(job.Tokens[0])
			ctx := context.Background()
			b.SetParallelism(bc.parallel)
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					rs := s.Send(ctx, job)
					if rs[len(rs)-1].Kind != provider.Delivered && bc.tokens > 1 {
						b.Errorf("%v %q", rs[len(rs)-1].Kind, rs[len(rs)-1].Reason)
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

func BenchmarkPollInvalid(b *testing.B) {
	s, fake := setup(b, mifake.Options{}, nil)
	ids := regids(0, 2500)
	b.ReportAllocs()
	for b.Loop() {
		fake.AddInvalidForPoll(ids...)
		if got, err := s.PollInvalid(context.Background(), testApp); err != nil || len(got) != len(ids) {
			b.Fatal(len(got), err)
		}
	}
}
