package apns_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
	"github.com/pushfleet/pushfleet/pkg/provider/apns/apnsfake"
	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
	"github.com/sideshow/apns2"
	apnstoken "github.com/sideshow/apns2/token"
	"golang.org/x/net/http2"
)

// childEnv makes the test binary run the fake APNs as a separate process, so
// that a benchmark's CPU figures (RUSAGE_SELF) cover the client side only.
// childWireEnv also makes it count the wire (apnsfake.Options.Wire).
const (
	childEnv     = "APNSFAKE_BENCH_CHILD"
	childWireEnv = "APNSFAKE_BENCH_WIRE"
)

// childInfo is what the fake process prints on its first output line.
type childInfo struct {
	URL string         `json:"url"`
	CA  []byte         `json:"ca"`
	App apns.AppConfig `json:"app"`
}

// childStats is what the fake process prints for each line it reads.
type childStats struct {
	Wire     fakeserver.Wire `json:"wire"`
	CPU      time.Duration   `json:"cpu"` // the fake process's user + system time
	Requests int64           `json:"requests"`
}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		runFakeChild()
		return
	}
	os.Exit(m.Run())
}

// runFakeChild serves a fake until its standard input closes, answering
// each line read with its childStats.
func runFakeChild() {
	var opts apnsfake.Options
	var wire fakeserver.WireCounter
	if os.Getenv(childWireEnv) == "1" {
		opts.Wire = &wire
	}
	fk, err := apnsfake.Start(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer fk.Close()
	app, err := fk.SandboxApp(testTopic)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := json.NewEncoder(os.Stdout)
	out.Encode(childInfo{URL: fk.URL(), CA: fk.CertPEM(), App: app})
	in := bufio.NewScanner(os.Stdin) // the parent closes stdin to stop us
	for in.Scan() {
		out.Encode(childStats{Wire: wire.Snapshot(), CPU: cpuTime(), Requests: fk.Requests()})
	}
}

// fakeProcess is a fake APNs in a child process.
type fakeProcess struct {
	childInfo
	stdin io.Writer
	out   *bufio.Reader
}

// startFakeProcess runs the fake in a child process for the benchmark;
// wire makes it count the wire.
func startFakeProcess(b *testing.B, wire bool) *fakeProcess {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	if wire {
		cmd.Env = append(cmd.Env, childWireEnv+"=1")
	}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	p := &fakeProcess{stdin: stdin, out: bufio.NewReader(stdout)}
	line, err := p.out.ReadBytes('\n')
	if err != nil {
		b.Fatalf("fake process: %v", err)
	}
	if err := json.Unmarshal(line, &p.childInfo); err != nil {
		b.Fatal(err)
	}
	return p
}

// stats asks the fake process for its counts so far.
func (p *fakeProcess) stats(b *testing.B) childStats {
	b.Helper()
	if _, err := io.WriteString(p.stdin, "stats\n"); err != nil {
		b.Fatal(err)
	}
	line, err := p.out.ReadBytes('\n')
	if err != nil {
		b.Fatalf("fake process: %v", err)
	}
	var st childStats
	if err := json.Unmarshal(line, &st); err != nil {
		b.Fatal(err)
	}
	return st
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report adds notifications/s and CPU µs per notification of this process.
func report(b *testing.B, n int, wall, cpu time.Duration) {
	b.ReportMetric(float64(n)/wall.Seconds(), "notifications/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/notification")
}

// BenchmarkSender pushes b.N notifications through the Sender to a fake in
// another process over loopback TLS and HTTP/2: jobs of 100 tokens, 8 jobs
// at a time, default pool (2 connections × 100 streams).
func BenchmarkSender(b *testing.B) {
	info := startFakeProcess(b, false)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(info.CA)
	s, err := apns.New(apns.Config{SandboxURL: info.URL, RootCAs: pool}, map[string]apns.AppConfig{testApp: info.App})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	toks := tokens(0, 1000)
	send(b, s, newJob(testApp, toks[:100]...)) // connect and mint the JWT

	const batch, workers = 100, 8
	jobs := (b.N + batch - 1) / batch
	var next, failed atomic.Int64
	b.ResetTimer()
	cpu0, start := cpuTime(), time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				j := int(next.Add(1)) - 1
				if j >= jobs {
					return
				}
				n := min(batch, b.N-j*batch)
				off := (j * batch) % len(toks)
				job := newJob(testApp, toks[off:off+n]...)
				job.IntentID = fmt.Sprint("bench-", j)
				for _, r := range s.Send(context.Background(), job) {
					if r.Kind != provider.Delivered {
						failed.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	wall, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d notifications not delivered", f)
	}
	report(b, b.N, wall, cpu)
}

// BenchmarkBareAPNS2 is the baseline: one apns2 client (one HTTP/2
// transport) pushing from many goroutines to the same fake process.
func BenchmarkBareAPNS2(b *testing.B) {
	info := startFakeProcess(b, false)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(info.CA)
	key, err := apnstoken.AuthKeyFromBytes([]byte(info.App.Key))
	if err != nil {
		b.Fatal(err)
	}
	c := apns2.NewTokenClient(&apnstoken.Token{AuthKey: key, KeyID: info.App.KeyID, TeamID: info.App.TeamID})
	c.Host = info.URL
	// apns2's own transport (x/net http2), only taught to trust the fake.
	c.HTTPClient.Transport.(*http2.Transport).TLSClientConfig = &tls.Config{RootCAs: pool}
	payload := []byte(`{"aps":{"alert":{"title":"hello","body":"world"}}}`)
	toks := tokens(0, 1000)
	var i, failed atomic.Int64
	// ~200 goroutines: the Sender's default in-flight bound (2 × 100).
	b.SetParallelism(max(1, 200/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	cpu0, start := cpuTime(), time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := &apns2.Notification{DeviceToken: toks[int(i.Add(1))%len(toks)], Topic: testTopic, Payload: payload}
			res, err := c.PushWithContext(context.Background(), n)
			if err != nil || !res.Sent() {
				failed.Add(1)
			}
		}
	})
	wall, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d notifications not delivered", f)
	}
	report(b, b.N, wall, cpu)
}
