package mi_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/mi"
	"github.com/pushfleet/pushfleet/pkg/provider/mi/mifake"
)

// sendConcurrently sends n one-regid jobs at once (every 7th regid dead) and
// checks each result belongs to its own job. It returns the order in which
// the jobs finished.
func sendConcurrently(t *testing.T, s *mi.Sender, fake *mifake.Server, n int) []int {
	t.Helper()
	for i := 0; i < n; i += 7 {
		fake.SetDead(regid(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var (
		mu    sync.Mutex
		order []int
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for i := range n {
		wg.Go(func() {
			<-start
			r := s.Send(ctx, testJob(regid(i)))[0]
			want := provider.Delivered
			if i%7 == 0 {
				want = provider.InvalidToken
			}
			if r.Token != regid(i) || r.Kind != want {
				t.Errorf("job %d: result for %q is %v (%s), want %v", i, r.Token, r.Kind, r.Reason, want)
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return order
}

func sorted(order []int) bool {
	for i := 1; i < len(order); i++ {
		if order[i] < order[i-1] {
			return false
		}
	}
	return true
}

// TestPipelinedOverHTTP2 puts 200 requests in flight at once on one
// connection; the fake answers them out of order.
func TestPipelinedOverHTTP2(t *testing.T) {
	s, fake := setup(t, mifake.Options{}, func(c *mi.Config) { c.MaxInFlightPerHost = 200 })
	// One request first: the connection and the server's stream limit
	// (250) are then known, so the burst needs no second connection.
	if r := send(t, s, testJob(regid(10_000))); r[0].Kind != provider.Delivered {
		t.Fatal(r[0])
	}
	// The fake answers none until all 200 are in flight (no race with a
	// timer on a loaded machine), then in random order.
	fake.HoldAnswers(200)
	fake.SetJitter(150 * time.Millisecond)
	order := sendConcurrently(t, s, fake, 200)
	if m := fake.MaxInFlight(); m != 200 {
		t.Errorf("at most %d requests were in flight at once, want 200", m)
	}
	if c := fake.Connections(); c != 1 {
		t.Errorf("%d connections for 200 concurrent requests over HTTP/2, want 1", c)
	}
	if sorted(order) {
		t.Error("answers came back in request order despite random latency")
	}
}

// TestColdBurstOneConnection: with the defaults, a burst on a cold sender
// opens one connection and keeps MaxInFlightPerHost requests on it.
func TestColdBurstOneConnection(t *testing.T) {
	s, fake := setup(t, mifake.Options{Jitter: 50 * time.Millisecond}, nil)
	// The first answers wait until the bound is reached: it is reached
	// however slowly the machine starts the 300 goroutines.
	fake.HoldAnswers(mi.DefaultMaxInFlightPerHost)
	sendConcurrently(t, s, fake, 300)
	if c := fake.Connections(); c != 1 {
		t.Errorf("%d connections, want 1", c)
	}
	if m := fake.MaxInFlight(); m != mi.DefaultMaxInFlightPerHost {
		t.Errorf("%d in flight, want %d", m, mi.DefaultMaxInFlightPerHost)
	}
}

// TestLowServerStreamLimit: a server allowing fewer streams than
// MaxInFlightPerHost makes Go's transport open more connections (it dials
// eagerly: 20-30 were seen for this burst), but nothing stalls or fails;
// with MaxInFlightPerHost at the server's limit one connection is kept.
func TestLowServerStreamLimit(t *testing.T) {
	for _, perHost := range []int{0, 40} {
		t.Run(fmt.Sprintf("per_host=%d", perHost), func(t *testing.T) {
			s, fake := setup(t, mifake.Options{MaxConcurrentStreams: 40, Jitter: 30 * time.Millisecond},
				func(c *mi.Config) { c.MaxInFlightPerHost = perHost })
			if r := send(t, s, testJob(regid(10_000))); r[0].Kind != provider.Delivered {
				t.Fatal(r[0])
			}
			sendConcurrently(t, s, fake, 200)
			c := fake.Connections()
			t.Logf("%d connections", c)
			if perHost == 40 && c != 1 {
				t.Errorf("%d connections with MaxInFlightPerHost at the server's limit, want 1", c)
			}
		})
	}
}

// TestKeepAlivePoolOverHTTP1 bounds an HTTP/1.1 server to the pool size.
func TestKeepAlivePoolOverHTTP1(t *testing.T) {
	const conns = 8
	s, fake := setup(t, mifake.Options{HTTP1Only: true}, func(c *mi.Config) { c.MaxConnsPerHost = conns })
	fake.SetJitter(20 * time.Millisecond)
	order := sendConcurrently(t, s, fake, 200)
	if m := fake.MaxInFlight(); m > conns || m < 2 {
		t.Errorf("%d requests in flight at once, want 2..%d", m, conns)
	}
	if c := fake.Connections(); c > conns {
		t.Errorf("%d connections, want ≤%d (kept alive and reused)", c, conns)
	}
	if sorted(order) {
		t.Error("answers came back in request order despite random latency")
	}
}
