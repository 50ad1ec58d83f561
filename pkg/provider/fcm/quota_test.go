package fcm_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm/fcmfake"
)

// TestQuotaStorm sends 300 tokens to a project whose quota is 100 messages
// per 2 s (sending them must take over 4 s to stay within it, which even a
// loaded machine under -race does not). The sender must hold the project after each QUOTA_EXCEEDED (a
// resend straight away returns Retry without reaching FCM) and, resending
// what came back Retry after its Retry-After, end with every token
// delivered exactly once.
func TestQuotaStorm(t *testing.T) {
	t.Parallel()
	f := startFake(t, fcmfake.Options{Quota: 100, QuotaWindow: 2 * time.Second})
	s := newSender(t, f, fcm.Config{BatchTimeout: slowBatchTimeout}, map[string]fcm.AppConfig{"app": sandboxApp(t, f, "app", "proj")})
	all := tokens(0, 300)
	pending := all
	storms := 0
	for round := 0; len(pending) > 0; round++ {
		if round == 10 {
			t.Fatalf("%d tokens still pending after %d rounds", len(pending), round)
		}
		var next []string
		var wait time.Duration
		for _, r := range send(t, s, newJob("app", pending...), 10*time.Second) {
			switch {
			case r.Kind == provider.Delivered:
			case r.Kind == provider.Retry && errors.Is(r.Err, provider.ErrRateLimited):
				next = append(next, r.Token)
				wait = max(wait, r.RetryAfter)
			default:
				t.Fatalf("token %s: %v (%s)", r.Token, r.Kind, r.Reason)
			}
		}
		if len(next) == 0 {
			break
		}
		storms++
		if wait <= 0 || wait > 2*time.Second {
			t.Fatalf("round %d: RetryAfter %v, want the fake's 1s", round, wait)
		}
		before := f.SendRequests()
		for _, r := range send(t, s, newJob("app", next...), 10*time.Second) {
			if r.Kind != provider.Retry || r.RetryAfter <= 0 || r.RetryAfter > wait {
				t.Fatalf("resend during hold: %v RetryAfter %v, want retry within %v", r.Kind, r.RetryAfter, wait)
			}
		}
		if n := f.SendRequests() - before; n != 0 {
			t.Fatalf("%d requests reached FCM while the project was held", n)
		}
		time.Sleep(wait) // the wait FCM asked for, as the runtime's NakWithDelay would
		pending = next
	}
	if storms == 0 {
		t.Fatal("the quota was never exceeded: the test proves nothing")
	}
	for _, tok := range all {
		if n := f.Delivered(tok); n != 1 {
			t.Fatalf("token %s delivered %d times, want 1", tok, n)
		}
	}
	if rejected := f.SendRequests() - int64(len(all)); rejected >= int64(len(all)) {
		t.Fatalf("%d requests rejected for %d tokens: the sender did not slow down", rejected, len(all))
	}
}
