package channel_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/channel"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

func job(tokens ...string) *events.Job {
	return &events.Job{ID: "j", IntentID: "i", App: "shop", Platform: "sms", Tokens: tokens,
		Notification: events.Notification{Body: "hi"}}
}

// Results come back one per token, in order, whatever order the deliveries
// finish in; a panic or a missing answer is a retry, not a lost token.
func TestSendOrderPanicsAndMissingAnswers(t *testing.T) {
	d := channel.DelivererFunc(func(ctx context.Context, d channel.Delivery) provider.Result {
		switch d.Token {
		case "slow":
			time.Sleep(50 * time.Millisecond)
			return channel.Delivered()
		case "panic":
			panic("boom")
		case "none":
			return provider.Result{}
		case "gone":
			return channel.InvalidToken("410")
		}
		return channel.Delivered()
	})
	rs := channel.NewSender(d, channel.Options{Concurrency: 4}).Send(context.Background(), job("slow", "panic", "none", "gone", "ok"))
	want := []provider.Kind{provider.Delivered, provider.Retry, provider.Retry, provider.InvalidToken, provider.Delivered}
	for i, r := range rs {
		if r.Token != job("slow", "panic", "none", "gone", "ok").Tokens[i] || r.Kind != want[i] {
			t.Errorf("result %d: %+v, want %v", i, r, want[i])
		}
		if r.Kind == provider.Delivered && r.AnsweredAt.IsZero() {
			t.Errorf("result %d has no AnsweredAt", i)
		}
	}
}

// Concurrency bounds one job's deliveries, MaxRequests the sender's.
func TestConcurrencyBounds(t *testing.T) {
	var now, peak atomic.Int32
	d := channel.DelivererFunc(func(ctx context.Context, d channel.Delivery) provider.Result {
		n := now.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		now.Add(-1)
		return channel.Delivered()
	})
	toks := make([]string, 40)
	for i := range toks {
		toks[i] = string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	channel.NewSender(d, channel.Options{Concurrency: 3}).Send(context.Background(), job(toks...))
	if peak.Load() > 3 {
		t.Fatalf("%d deliveries at once, Concurrency 3", peak.Load())
	}
	peak.Store(0)
	s := channel.NewSender(d, channel.Options{Concurrency: 8, MaxRequests: 2})
	done := make(chan struct{})
	for range 3 {
		go func() { s.Send(context.Background(), job(toks...)); done <- struct{}{} }()
	}
	for range 3 {
		<-done
	}
	if peak.Load() > 2 {
		t.Fatalf("%d deliveries at once, MaxRequests 2", peak.Load())
	}
}

// An expired notification is never delivered; when ctx ends, tokens not yet
// delivered are retries marked not sent.
func TestExpiryAndContext(t *testing.T) {
	var calls atomic.Int32
	d := channel.DelivererFunc(func(ctx context.Context, d channel.Delivery) provider.Result {
		calls.Add(1)
		<-ctx.Done()
		return channel.Retry("cancelled", 0, ctx.Err())
	})
	j := job("a", "b")
	past := time.Now().Add(-time.Second)
	j.Notification.Expiry = &past
	for _, r := range channel.NewSender(d, channel.Options{}).Send(context.Background(), j) {
		if r.Kind != provider.Expired || !errors.Is(r.Err, provider.ErrExpired) {
			t.Fatalf("expired: %+v", r)
		}
	}
	if calls.Load() != 0 {
		t.Fatal("an expired notification was delivered")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	rs := channel.NewSender(d, channel.Options{Concurrency: 1}).Send(ctx, job("a", "b", "c"))
	if rs[0].Kind != provider.Retry || !rs[0].Sent() {
		t.Fatalf("in flight at the deadline: %+v", rs[0])
	}
	for _, r := range rs[1:] {
		if r.Kind != provider.Retry || r.Sent() || !errors.Is(r.Err, provider.ErrNotSent) {
			t.Fatalf("never sent: %+v", r)
		}
	}
}

func TestHTTPResult(t *testing.T) {
	now := time.Now()
	for code, want := range map[int]provider.Kind{
		200: provider.Delivered, 202: provider.Delivered, 204: provider.Delivered,
		404: provider.InvalidToken, 410: provider.InvalidToken,
		401: provider.CredentialError, 403: provider.CredentialError,
		429: provider.Retry, 408: provider.Retry, 500: provider.Retry, 502: provider.Retry, 503: provider.Retry,
		400: provider.Permanent, 413: provider.Permanent, 422: provider.Permanent, 301: provider.Permanent,
	} {
		resp := &http.Response{StatusCode: code, Header: http.Header{"Retry-After": {"7"}}}
		r := channel.HTTPResult(resp, nil, now)
		if r.Kind != want {
			t.Errorf("HTTP %d: %v, want %v", code, r.Kind, want)
		}
		if want == provider.Retry && r.RetryAfter != 7*time.Second {
			t.Errorf("HTTP %d: RetryAfter %v, want 7s", code, r.RetryAfter)
		}
	}
	if r := channel.HTTPResult(nil, errors.New("reset"), now); r.Kind != provider.Retry || !errors.Is(r.Err, provider.ErrUnavailable) {
		t.Errorf("transport error: %+v", r)
	}
	if a, b := channel.DeliveryID("shop", "i1", "t"), channel.DeliveryID("shop", "i1", "t"); a != b || a == channel.DeliveryID("shop", "i2", "t") {
		t.Error("DeliveryID not stable per (app, intent, token)")
	}
}
