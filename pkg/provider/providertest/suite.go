package providertest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Run runs the conformance suite. newHarness must return a fresh sender and
// fake for each subtest (faults are stateful).
func Run(t *testing.T, newHarness func(t *testing.T) *Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *Harness)
	}{
		{"Delivered", testDelivered},
		{"DeadTokenIsInvalid", testDeadToken},
		{"BatchResultsInOrder", testBatchOrder},
		{"RateLimitedIsRetry", testFailure(RateLimited, provider.Retry)},
		{"UnavailableIsRetry", testFailure(Unavailable, provider.Retry)},
		{"InternalIsRetry", testFailure(Internal, provider.Retry)},
		{"AuthFailureIsCredentialError", testFailure(AuthFailure, provider.CredentialError)},
		{"BadRequestIsPermanent", testFailure(BadRequest, provider.Permanent)},
		{"DroppedConnectionIsRetry", testFailure(DropConnection, provider.Retry)},
		{"RecoversAfterFailure", testRecovers},
		{"UnknownAppIsPermanent", testUnknownApp},
		{"PayloadTooLargeIsPermanent", testPayloadTooLarge},
		{"SlowAnswerWithinDeadline", testSlow},
		{"DeadlineExceededIsRetry", testDeadline},
		{"ExpiredIsNotSent", testExpired},
		{"ExpiryCheckedBeforeEachRequest", testExpiryBacklog},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			tc.fn(t, h)
		})
	}
}

func job(h *Harness, tokens ...string) *events.Job {
	return &events.Job{
		ID: "conf-" + strings.ReplaceAll(tokens[0], ":", ""), IntentID: "conf",
		App: h.App, Platform: h.Platform, Tokens: tokens,
		Notification: events.Notification{Title: "hello", Body: "conformance", Data: map[string]any{"k": "v"}},
		CreatedAt:    time.Now(),
	}
}

func send(t *testing.T, h *Harness, j *events.Job, timeout time.Duration) []provider.Result {
	t.Helper()
	return Send(t, h.Sender, j, timeout)
}

func testDelivered(t *testing.T, h *Harness) {
	tok := h.Token(1)
	before := time.Now()
	rs := send(t, h, job(h, tok), 10*time.Second)
	WantKind(t, rs[0], provider.Delivered)
	if at := rs[0].AnsweredAt; at.Before(before) || at.After(time.Now()) {
		t.Fatalf("AnsweredAt %v, want the moment of the answer, during Send", at)
	}
	if n := h.Fake.Delivered(tok); n != 1 {
		t.Fatalf("fake saw %d deliveries to the token, want 1", n)
	}
}

func testDeadToken(t *testing.T, h *Harness) {
	tok := h.Token(2)
	h.Fake.SetDead(tok)
	rs := send(t, h, job(h, tok), 10*time.Second)
	WantKind(t, rs[0], provider.InvalidToken)
	if rs[0].Reason == "" {
		t.Fatal("invalid token result has no provider reason")
	}
	if !errors.Is(rs[0].Err, provider.ErrInvalidToken) {
		t.Fatalf("err %v does not match provider.ErrInvalidToken", rs[0].Err)
	}
}

func testBatchOrder(t *testing.T, h *Harness) {
	n := 10
	if h.Features.MaxBatch > 0 && h.Features.MaxBatch < n {
		n = h.Features.MaxBatch
	}
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = h.Token(100 + i)
		if i%3 == 1 {
			h.Fake.SetDead(tokens[i])
		}
	}
	rs := send(t, h, job(h, tokens...), 20*time.Second)
	for i, r := range rs {
		want := provider.Delivered
		if i%3 == 1 {
			want = provider.InvalidToken
		}
		WantKind(t, r, want)
	}
}

func testFailure(f Failure, want provider.Kind) func(t *testing.T, h *Harness) {
	return func(t *testing.T, h *Harness) {
		retryAfter := time.Duration(0)
		if f == RateLimited {
			retryAfter = 7 * time.Second
		}
		// Enough failures to defeat any retry the provider library does itself.
		h.Fake.FailNext(20, f, retryAfter)
		tok := h.Token(3)
		rs := send(t, h, job(h, tok), 20*time.Second)
		WantKind(t, rs[0], want)
		if f == RateLimited && h.Features.RetryAfter && rs[0].RetryAfter < time.Second {
			t.Fatalf("rate limited with Retry-After 7s, result RetryAfter = %v", rs[0].RetryAfter)
		}
		if want != provider.Delivered && h.Fake.Delivered(tok) != 0 {
			t.Fatalf("token delivered although the fake failed the request")
		}
	}
}

func testRecovers(t *testing.T, h *Harness) {
	h.Fake.FailNext(1, Unavailable, 0)
	tok := h.Token(4)
	first := send(t, h, job(h, tok), 20*time.Second)
	if first[0].Kind != provider.Retry && first[0].Kind != provider.Delivered {
		t.Fatalf("after one 503: kind %v, want retry (or delivered if the library retried)", first[0].Kind)
	}
	rs := send(t, h, job(h, tok), 10*time.Second)
	WantKind(t, rs[0], provider.Delivered)
}

func testUnknownApp(t *testing.T, h *Harness) {
	j := job(h, h.Token(5))
	j.App = "no-such-app"
	rs := send(t, h, j, 10*time.Second)
	WantKind(t, rs[0], provider.Permanent)
	if !errors.Is(rs[0].Err, provider.ErrUnknownApp) {
		t.Fatalf("err %v does not match provider.ErrUnknownApp", rs[0].Err)
	}
}

func testPayloadTooLarge(t *testing.T, h *Harness) {
	if h.Features.MaxPayload == 0 {
		t.Skip("provider declares no payload limit")
	}
	j := job(h, h.Token(6))
	j.Notification.Body = strings.Repeat("x", h.Features.MaxPayload+1)
	rs := send(t, h, j, 10*time.Second)
	WantKind(t, rs[0], provider.Permanent)
	if !errors.Is(rs[0].Err, provider.ErrPayloadTooLarge) && !errors.Is(rs[0].Err, provider.ErrBadMessage) {
		t.Fatalf("err %v matches neither ErrPayloadTooLarge nor ErrBadMessage", rs[0].Err)
	}
}

func testSlow(t *testing.T, h *Harness) {
	h.Fake.SetLatency(300 * time.Millisecond)
	tokens := []string{h.Token(7), h.Token(8)}
	rs := send(t, h, job(h, tokens...), 10*time.Second)
	for _, r := range rs {
		WantKind(t, r, provider.Delivered)
	}
}

func testDeadline(t *testing.T, h *Harness) {
	h.Fake.SetLatency(5 * time.Second)
	tok := h.Token(9)
	start := time.Now()
	rs := send(t, h, job(h, tok), 200*time.Millisecond)
	WantKind(t, rs[0], provider.Retry)
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("Send took %v after a 200ms deadline: it must honour ctx", el)
	}
}

func testExpired(t *testing.T, h *Harness) {
	tokens := []string{h.Token(10), h.Token(11)}
	j := job(h, tokens...)
	past := time.Now().Add(-time.Second)
	j.Notification.Expiry = &past
	before := len(h.Fake.RequestTimes())
	for _, r := range send(t, h, j, 10*time.Second) {
		WantKind(t, r, provider.Expired)
		if !errors.Is(r.Err, provider.ErrExpired) {
			t.Fatalf("err %v does not match provider.ErrExpired", r.Err)
		}
	}
	if n := len(h.Fake.RequestTimes()) - before; n != 0 {
		t.Fatalf("%d requests reached the provider for an expired notification", n)
	}
	for _, tok := range tokens {
		if h.Fake.Delivered(tok) != 0 {
			t.Fatal("expired notification delivered")
		}
	}
}

// testExpiryBacklog queues one-token jobs behind a sender that makes one
// request at a time, against a provider that answers slowly, with an expiry
// the queue outlasts. A token whose turn comes after the expiry must be
// Expired and never sent: the expiry is checked right before each request,
// not when a job starts.
func testExpiryBacklog(t *testing.T, h *Harness) {
	if h.Serial == nil {
		t.Skip("the harness has no one-request-at-a-time sender")
	}
	const (
		n       = 6
		latency = 300 * time.Millisecond
		// slack covers the time from the check to the request's arrival;
		// without the check the fourth request comes 400ms after expiry.
		slack = 250 * time.Millisecond
	)
	h.Fake.SetLatency(latency)
	expiry := time.Now().Add(500 * time.Millisecond)
	tokens := make([]string, n)
	results := make([][]provider.Result, n)
	var wg sync.WaitGroup
	for i := range tokens {
		tokens[i] = h.Token(200 + i)
		j := job(h, tokens[i])
		j.Notification.Expiry = &expiry
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			results[i] = h.Serial.Send(ctx, j)
		})
	}
	wg.Wait()
	for _, at := range h.Fake.RequestTimes() {
		if late := at.Sub(expiry); late > slack {
			t.Fatalf("a request reached the provider %v after the notification's expiry", late.Round(time.Millisecond))
		}
	}
	expired := 0
	for i, rs := range results {
		if len(rs) != 1 || rs[0].Token != tokens[i] {
			t.Fatalf("job %d: results %+v, want one for its token", i, rs)
		}
		switch r := rs[0]; r.Kind {
		case provider.Expired:
			expired++
			if h.Fake.Delivered(tokens[i]) != 0 {
				t.Fatalf("token %s is Expired but was delivered", tokens[i])
			}
		case provider.Delivered:
		default:
			t.Fatalf("token %s: kind %v (%s, %v), want delivered or expired", r.Token, r.Kind, r.Reason, r.Err)
		}
	}
	if expired == 0 {
		t.Fatalf("no token expired although %d answers of %v each outlast the expiry", n, latency)
	}
}
