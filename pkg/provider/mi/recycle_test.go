package mi_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/mi"
	"github.com/pushfleet/pushfleet/pkg/provider/mi/mifake"
)

// TestRecycleKeepsInFlight replaces the connections every 30ms while
// requests are in flight: none may be lost, and old connections close.
func TestRecycleKeepsInFlight(t *testing.T) {
	for _, http1 := range []bool{false, true} {
		t.Run(fmt.Sprintf("http1=%v", http1), func(t *testing.T) {
			s, fake := setup(t, mifake.Options{HTTP1Only: http1, Jitter: 40 * time.Millisecond},
				func(c *mi.Config) { c.ConnMaxAge = 30 * time.Millisecond })
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			const workers, jobs = 20, 10
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for j := range jobs {
						tok := regid(w*jobs + j)
						if r := s.Send(ctx, testJob(tok))[0]; r.Kind != provider.Delivered {
							t.Errorf("%s: %v %q %v", tok, r.Kind, r.Reason, r.Err)
						}
					}
				})
			}
			wg.Wait()
			if got := fake.DeliveredTotal(); got != workers*jobs {
				t.Fatalf("fake accepted %d, want %d", got, workers*jobs)
			}
			if m := fake.MaxInFlight(); m < 5 {
				t.Fatalf("only %d requests overlapped: recycling was not tested under load", m)
			}
			if c := fake.Connections(); c < 3 {
				t.Fatalf("%d connections: the schedule did not recycle them", c)
			}
			// Retired connections close once their requests are done. Over
			// HTTP/1.1 the current generation keeps its idle pool, so keep
			// sending single requests (each after the age limit) until only
			// the one connection they need is open.
			deadline := time.Now().Add(5 * time.Second)
			for i := 0; fake.OpenConnections() > 1 && time.Now().Before(deadline); i++ {
				time.Sleep(40 * time.Millisecond)
				if r := s.Send(ctx, testJob(regid(10_000+i)))[0]; r.Kind != provider.Delivered {
					t.Fatalf("%v %q", r.Kind, r.Reason)
				}
			}
			if o := fake.OpenConnections(); o > 1 {
				t.Fatalf("%d connections still open, want ≤1", o)
			}
		})
	}
}

// TestReconnectBackoff: after a failed dial the host is not redialled at
// once; requests fail fast with Retry and a RetryAfter instead.
func TestReconnectBackoff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: dials are refused
	s, err := mi.New(mi.Config{BaseURL: "https://" + addr, BackoffMin: time.Second, BackoffMax: time.Second},
		map[string]mi.AppConfig{testApp: {PackageName: "com.example", AppSecret: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	first := send(t, s, testJob(regid(1)))[0]
	if first.Kind != provider.Retry || first.Reason != "transport" {
		t.Fatalf("first: %v %q %v", first.Kind, first.Reason, first.Err)
	}
	second := send(t, s, testJob(regid(1)))[0]
	if second.Kind != provider.Retry || second.Reason != "reconnect backoff" ||
		second.RetryAfter <= 0 || second.RetryAfter > time.Second {
		t.Fatalf("second: %v %q RetryAfter %v", second.Kind, second.Reason, second.RetryAfter)
	}
}
