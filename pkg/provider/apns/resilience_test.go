package apns_test

import (
	"context"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
	"github.com/pushfleet/pushfleet/pkg/provider/apns/apnsfake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

// resendUntilDelivered re-sends the Retry tokens of rs with a growing pause
// (bounded rounds) and fails unless every token ends Delivered.
func resendUntilDelivered(t *testing.T, s *apns.Sender, rs []provider.Result) {
	t.Helper()
	pause := 5 * time.Millisecond
	for round := 0; ; round++ {
		var retry []string
		for _, r := range rs {
			switch r.Kind {
			case provider.Delivered:
			case provider.Retry:
				retry = append(retry, r.Token)
			default:
				t.Fatalf("token %s…: %v %s, want delivered or retry", r.Token[:8], r.Kind, r.Reason)
			}
		}
		if len(retry) == 0 {
			return
		}
		if round == 8 {
			t.Fatalf("%d tokens still not delivered after %d rounds", len(retry), round)
		}
		time.Sleep(pause)
		pause *= 2
		rs = send(t, s, newJob(testApp, retry...))
	}
}

// TestConnectionKilledMidFlight: the fake drops every connection while
// pushes are in flight. Every token ends Delivered or Retry; re-sending the
// Retry ones delivers each token exactly once, as the fake counts.
func TestConnectionKilledMidFlight(t *testing.T) {
	f := newFixture(t, apnsfake.Options{}, func(c *apns.Config) { c.ConnsPerPool = 2 })
	toks := tokens(0, 100)
	f.fake.SetLatency(300 * time.Millisecond)
	done := make(chan []provider.Result)
	go func() { done <- send(t, f.sender, newJob(testApp, toks...)) }()
	waitFor(t, "pushes in flight", func() bool { return f.fake.InFlight() >= 50 })
	before := f.fake.Connections()
	inFlight := int(f.fake.InFlight())
	f.fake.CloseConnections()
	rs := <-done
	f.fake.SetLatency(0)

	retried := 0
	for _, r := range rs {
		if r.Kind == provider.Retry {
			retried++
		}
	}
	if retried < 50 {
		t.Fatalf("only %d tokens Retry after killing connections with >= 50 in flight", retried)
	}
	resendUntilDelivered(t, f.sender, rs)
	// A request the fake finished just as its connection died is delivered
	// but answered Retry, so re-sending doubles it: only those may.
	doubled := 0
	for _, tok := range toks {
		switch n := f.fake.Delivered(tok); {
		case n == 0:
			t.Fatalf("token %s… lost", tok[:8])
		case n > 1:
			doubled += n - 1
		}
	}
	if doubled > inFlight {
		t.Fatalf("%d duplicate deliveries, more than the %d requests in flight at the kill", doubled, inFlight)
	}
	if f.fake.Connections() <= before {
		t.Fatal("the sender did not reconnect")
	}
	t.Logf("in flight at kill %d, retried %d, doubled %d", inFlight, retried, doubled)
}

// TestRateLimitAndUnavailableStorm: a burst of 429 and 503 answers, retried
// by re-sending the Retry tokens with backoff, ends with every token
// delivered once.
func TestRateLimitAndUnavailableStorm(t *testing.T) {
	f := newFixture(t, apnsfake.Options{}, nil)
	f.fake.FailNext(60, providertest.RateLimited, time.Second)
	f.fake.FailNext(60, providertest.Unavailable, 0)
	f.fake.ResetStreams(10)
	toks := tokens(0, 100)
	rs := send(t, f.sender, newJob(testApp, toks...))
	limited := 0
	for _, r := range rs {
		if r.Kind == provider.Retry && r.RetryAfter == time.Second {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("no Retry result carried the 429's Retry-After")
	}
	resendUntilDelivered(t, f.sender, rs)
	for _, tok := range toks {
		if n := f.fake.Delivered(tok); n != 1 {
			t.Fatalf("token delivered %d times, want 1", n)
		}
	}
}

// TestStreamsBoundedPerConnection: in-flight requests never exceed
// ConnsPerPool × MaxStreamsPerConn, and the rest wait for a slot.
func TestStreamsBoundedPerConnection(t *testing.T) {
	f := newFixture(t, apnsfake.Options{}, func(c *apns.Config) { c.ConnsPerPool, c.MaxStreamsPerConn = 2, 3 })
	f.fake.SetLatency(20 * time.Millisecond)
	for _, r := range send(t, f.sender, newJob(testApp, tokens(0, 30)...)) {
		providertest.WantKind(t, r, provider.Delivered)
	}
	if p := f.fake.PeakInFlight(); p > 6 {
		t.Fatalf("%d requests in flight at once, want at most 6", p)
	}
	if n := f.fake.Connections(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
}

// TestLargeJobHoldsNoGoroutinePerToken: a job of many tokens is pushed by
// the pool's workers (at most ConnsPerPool × MaxStreamsPerConn of them),
// not by a goroutine per token waiting for a stream.
func TestLargeJobHoldsNoGoroutinePerToken(t *testing.T) {
	f := newFixture(t, apnsfake.Options{}, func(c *apns.Config) { c.ConnsPerPool, c.MaxStreamsPerConn = 2, 3 })
	f.fake.SetLatency(5 * time.Millisecond)
	before := runtime.NumGoroutine()
	var peak atomic.Int64
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
			if n := int64(runtime.NumGoroutine() - before); n > peak.Load() {
				peak.Store(n)
			}
		}
	}()
	for _, r := range send(t, f.sender, newJob(testApp, tokens(0, 500)...)) {
		providertest.WantKind(t, r, provider.Delivered)
	}
	close(done)
	// Workers, connection readers and writers, the fake's handlers and the
	// sampler: a few dozen at most. A goroutine per token would be 500.
	if p := peak.Load(); p > 100 {
		t.Fatalf("%d more goroutines at the peak of a 500-token job, want ≤ 100", p)
	}
}

// TestFakeHoldAfter: the fake's stall holds requests unanswered once n
// were delivered, and Release lets them through; the sender keeps the
// held tokens in flight, none lost.
func TestFakeHoldAfter(t *testing.T) {
	f := newFixture(t, apnsfake.Options{}, nil)
	f.fake.HoldAfter(5)
	done := make(chan []provider.Result, 1)
	go func() { done <- f.sender.Send(context.Background(), newJob(testApp, tokens(0, 20)...)) }()
	deadline := time.Now().Add(5 * time.Second)
	for f.fake.TotalDelivered() < 5 || f.fake.InFlight() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no request held: %d delivered, %d in flight", f.fake.TotalDelivered(), f.fake.InFlight())
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if n := f.fake.TotalDelivered(); n >= 20 {
		t.Fatalf("%d delivered while held, want fewer than 20", n)
	}
	select {
	case <-done:
		t.Fatal("the job ended while the fake held requests")
	default:
	}
	f.fake.Release()
	for _, r := range <-done {
		providertest.WantKind(t, r, provider.Delivered)
	}
	if n := f.fake.TotalDelivered(); n != 20 {
		t.Fatalf("%d delivered after release, want 20", n)
	}
}

// TestServerStreamLimitOpensConnections: when APNs advertises fewer streams
// than the sender's bound, requests spill onto extra connections instead of
// stalling (StrictMaxConcurrentRequests stays off).
func TestServerStreamLimitOpensConnections(t *testing.T) {
	f := newFixture(t, apnsfake.Options{MaxConcurrentStreams: 1}, func(c *apns.Config) { c.ConnsPerPool, c.MaxStreamsPerConn = 1, 5 })
	f.fake.SetLatency(50 * time.Millisecond)
	for _, r := range send(t, f.sender, newJob(testApp, tokens(0, 5)...)) {
		providertest.WantKind(t, r, provider.Delivered)
	}
	if c, p := f.fake.Connections(), f.fake.PeakInFlight(); c < 2 || p < 2 {
		t.Fatalf("%d connections, %d requests at once: the requests queued behind the server's 1-stream limit", c, p)
	}
}

// TestSlotWaitHonoursContext: tokens waiting for a connection slot when ctx
// ends are Retry and never reach APNs.
func TestSlotWaitHonoursContext(t *testing.T) {
	f := newFixture(t, apnsfake.Options{}, func(c *apns.Config) { c.ConnsPerPool, c.MaxStreamsPerConn = 1, 1 })
	f.fake.SetLatency(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	rs := f.sender.Send(ctx, newJob(testApp, tokens(0, 4)...))
	for _, r := range rs {
		providertest.WantKind(t, r, provider.Retry)
	}
	if n := f.fake.Requests(); n != 1 {
		t.Fatalf("fake saw %d requests, want 1 (the others never got a slot)", n)
	}
}

// TestReconnectBackoff: after a failed dial the sender waits before dialing
// again, failing requests fast with Retry meanwhile: no tight reconnect loop.
func TestReconnectBackoff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close() // the TLS handshake fails
		}
	}()
	fk, err := apnsfake.Start(apnsfake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fk.Close()
	app, _ := fk.SandboxApp(testTopic)
	cfg := apns.Config{SandboxURL: "https://" + ln.Addr().String(), ConnsPerPool: 1,
		ReconnectBackoffMin: 400 * time.Millisecond, Logger: testLogger()}
	s, err := apns.New(cfg, map[string]apns.AppConfig{testApp: app})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 10 {
		providertest.WantKind(t, send(t, s, newJob(testApp, token(1)))[0], provider.Retry)
	}
	if n := accepted.Load(); n != 1 {
		t.Fatalf("%d dials within the backoff, want 1", n)
	}
	waitFor(t, "a redial after the backoff", func() bool {
		send(t, s, newJob(testApp, token(1)))
		return accepted.Load() == 2
	})
}
