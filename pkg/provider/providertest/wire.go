package providertest

import (
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
)

// WireSample is a fake's counts at one moment.
type WireSample struct {
	Wire fakeserver.Wire
	// CPU is the fake's own CPU time when it runs in another process (zero:
	// unknown, the fake shares this process).
	CPU time.Duration
	// Requests is the push requests the fake received.
	Requests int64
}

// WireLoad is what MeasureWire pushes and how.
type WireLoad struct {
	// Tokens are pushed in turn, Batch at a time; len(Tokens) must be a
	// multiple of Batch.
	Tokens []string
	// Batch is the tokens of one Push call; InFlight/Batch calls run at once.
	Batch, InFlight int
	// Push sends one notification to tokens and returns how many were
	// delivered.
	Push func(tokens []string) int
	// Sample reads the fake's counts.
	Sample func() WireSample
}

// MeasureWire pushes b.N notifications as l says, after one warm-up call
// (connections, credentials), and reports per push request what crossed
// the wire (fakeserver.Wire.PerRequest), the fake's CPU when known
// ("fake-cpu-µs/req"), this process's CPU ("cpu-µs/req": the client, plus
// the fake when it runs in this process), "notifs/req" and
// "notifications/s". Every notification must be delivered.
func MeasureWire(b *testing.B, l WireLoad) {
	b.Helper()
	if l.Batch <= 0 || len(l.Tokens)%l.Batch != 0 {
		b.Fatalf("MeasureWire: %d tokens are not batches of %d", len(l.Tokens), l.Batch)
	}
	if l.Push(l.Tokens[:l.Batch]) != l.Batch {
		b.Fatal("warm-up push not delivered")
	}
	calls := (b.N + l.Batch - 1) / l.Batch
	before := l.Sample()
	b.ResetTimer()
	cpu0, start := ProcessCPU(), time.Now()
	var next, delivered atomic.Int64
	var wg sync.WaitGroup
	for range max(1, l.InFlight/l.Batch) {
		wg.Go(func() {
			for {
				j := int(next.Add(1)) - 1
				if j >= calls {
					return
				}
				off := (j * l.Batch) % len(l.Tokens)
				n := min(l.Batch, b.N-j*l.Batch)
				delivered.Add(int64(l.Push(l.Tokens[off : off+n])))
			}
		})
	}
	wg.Wait()
	wall, cpu := time.Since(start), ProcessCPU()-cpu0
	b.StopTimer()
	after := l.Sample()
	if d := delivered.Load(); d != int64(b.N) {
		b.Fatalf("%d of %d notifications delivered", d, b.N)
	}
	reqs := after.Requests - before.Requests
	if reqs <= 0 {
		b.Fatalf("the fake saw %d requests", reqs)
	}
	for _, m := range after.Wire.Sub(before.Wire).PerRequest(reqs) {
		b.ReportMetric(m.Value, m.Unit)
	}
	if fake := after.CPU - before.CPU; fake > 0 {
		b.ReportMetric(float64(fake.Nanoseconds())/1e3/float64(reqs), "fake-cpu-µs/req")
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(reqs), "cpu-µs/req")
	b.ReportMetric(float64(b.N)/float64(reqs), "notifs/req")
	b.ReportMetric(float64(b.N)/wall.Seconds(), "notifications/s")
}

// ProcessCPU is this process's user and system CPU time so far (also what
// a fake in a child process reports as WireSample.CPU).
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
