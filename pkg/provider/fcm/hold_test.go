package fcm_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm/fcmfake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

// TestHoldThenOneProbe: after QUOTA_EXCEEDED with Retry-After, tokens sent
// during the hold are held back (Retry, ErrRateLimited and ErrNotSent: no
// request, so nothing to report as failed), and when the hold ends one probe
// message goes first: the backlog follows its answer instead of all
// arriving at once.
func TestHoldThenOneProbe(t *testing.T) {
	t.Parallel()
	f := startFake(t, fcmfake.Options{})
	s := newSender(t, f, fcm.Config{BatchTimeout: 10 * time.Second}, map[string]fcm.AppConfig{"app": sandboxApp(t, f, "app", "proj")})
	f.FailNext(1, providertest.RateLimited, time.Second)
	first := send(t, s, newJob("app", token(1)), 5*time.Second)[0]
	if first.Kind != provider.Retry || !errors.Is(first.Err, provider.ErrRateLimited) || errors.Is(first.Err, provider.ErrNotSent) {
		t.Fatalf("answered 429: %v %v, want retry, rate limited, sent", first.Kind, first.Err)
	}
	holdEnds := time.Now().Add(time.Second)

	before := f.SendRequests()
	for _, r := range send(t, s, newJob("app", tokens(10, 5)...), 5*time.Second) {
		if r.Kind != provider.Retry || !errors.Is(r.Err, provider.ErrRateLimited) || !errors.Is(r.Err, provider.ErrNotSent) || r.RetryAfter <= 0 {
			t.Fatalf("during the hold: %v %v RetryAfter %v, want retry, rate limited, not sent", r.Kind, r.Err, r.RetryAfter)
		}
	}
	if n := f.SendRequests() - before; n != 0 {
		t.Fatalf("%d requests during the hold", n)
	}

	time.Sleep(time.Until(holdEnds) + 50*time.Millisecond)
	const latency = 200 * time.Millisecond
	f.SetLatency(latency)
	start := len(f.RequestTimes())
	backlog := tokens(100, 20)
	var wg sync.WaitGroup
	var rs [][]provider.Result
	var mu sync.Mutex
	for i := 0; i < len(backlog); i += 5 { // four jobs at once, as a backlog arrives
		wg.Go(func() {
			r := s.Send(t.Context(), newJob("app", backlog[i:i+5]...))
			mu.Lock()
			rs = append(rs, r)
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, job := range rs {
		for _, r := range job {
			providertest.WantKind(t, r, provider.Delivered)
		}
	}
	times := f.RequestTimes()[start:]
	if len(times) != len(backlog) {
		t.Fatalf("%d requests for %d tokens", len(times), len(backlog))
	}
	probe := times[0]
	for _, at := range times[1:] {
		if at.Sub(probe) < latency {
			t.Fatalf("a request arrived %v after the probe, before its answer (%v): the backlog was released at once",
				at.Sub(probe).Round(time.Millisecond), latency)
		}
	}
}

// TestProbeLimitedAgainHoldsAgain: a probe answered QUOTA_EXCEEDED holds the
// project again; the rest of its job is held back without a request.
func TestProbeLimitedAgainHoldsAgain(t *testing.T) {
	t.Parallel()
	f := startFake(t, fcmfake.Options{})
	s := newSender(t, f, fcm.Config{}, map[string]fcm.AppConfig{"app": sandboxApp(t, f, "app", "proj")})
	f.FailNext(1, providertest.RateLimited, time.Second) // Retry-After has whole seconds
	send(t, s, newJob("app", token(1)), 5*time.Second)
	time.Sleep(1100 * time.Millisecond)
	f.FailNext(1, providertest.RateLimited, 30*time.Second)
	before := f.SendRequests()
	rs := send(t, s, newJob("app", tokens(10, 10)...), 5*time.Second)
	if n := f.SendRequests() - before; n != 1 {
		t.Fatalf("%d requests, want the probe alone", n)
	}
	if errors.Is(rs[0].Err, provider.ErrNotSent) || !errors.Is(rs[0].Err, provider.ErrRateLimited) {
		t.Fatalf("probe: %v, want the real QUOTA_EXCEEDED", rs[0].Err)
	}
	for _, r := range rs[1:] {
		if !errors.Is(r.Err, provider.ErrNotSent) || r.RetryAfter < 25*time.Second {
			t.Fatalf("after the probe's 429: %v RetryAfter %v, want held back for the new Retry-After", r.Err, r.RetryAfter)
		}
	}
}

// TestNoRetryAfterExpiry: FCM answers 503 with Retry-After 2s, which the
// Admin SDK honours by retrying itself; the notification expires before
// that. The retry must not be sent: the token is Expired after one request.
func TestNoRetryAfterExpiry(t *testing.T) {
	t.Parallel()
	f := startFake(t, fcmfake.Options{})
	s := newSender(t, f, fcm.Config{BatchTimeout: 10 * time.Second}, map[string]fcm.AppConfig{"app": sandboxApp(t, f, "app", "proj")})
	f.FailNext(1, providertest.Unavailable, 2*time.Second)
	j := newJob("app", token(1))
	exp := time.Now().Add(time.Second)
	j.Notification.Expiry = &exp
	r := send(t, s, j, 10*time.Second)[0]
	providertest.WantKind(t, r, provider.Expired)
	if n := f.SendRequests(); n != 1 {
		t.Fatalf("%d requests, want 1 (no retry after the expiry)", n)
	}
	if f.Delivered(token(1)) != 0 {
		t.Fatal("delivered after its expiry")
	}
}

// TestLogLinesHaveOneComponent: the caller's logger already names the
// component; the sender must not add a second "component" key (a JSON
// object with a duplicate key).
func TestLogLinesHaveOneComponent(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})).With("component", "gcm-sender")
	f := startFake(t, fcmfake.Options{})
	s := newSender(t, f, fcm.Config{Logger: log}, map[string]fcm.AppConfig{"app": sandboxApp(t, f, "app", "proj")})
	f.FailNext(1, providertest.RateLimited, time.Second)
	send(t, s, newJob("app", token(1)), 5*time.Second)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) == 0 || lines[0] == "" {
		t.Fatal("no log line written")
	}
	for _, l := range lines {
		if n := strings.Count(l, `"component":`); n != 1 {
			t.Fatalf("%d component keys in %s", n, l)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
