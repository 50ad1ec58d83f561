package webpush_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
	"github.com/pushfleet/pushfleet/pkg/provider/webpush"
	"github.com/pushfleet/pushfleet/pkg/provider/webpush/webpushfake"
)

func send(t *testing.T, s provider.Sender, j *events.Job) []provider.Result {
	t.Helper()
	return providertest.Send(t, s, j, 10*time.Second)
}

// TestFakeDecryptsExactlyThePayloadSent: the fake, holding the
// subscription's private key, opens what webpush-go encrypted and gets the
// payload byte for byte; the RFC 8030 headers carry the intent's expiry,
// priority and collapse key; the VAPID JWT names the push service's origin.
func TestFakeDecryptsExactlyThePayloadSent(t *testing.T) {
	f := newFixture(t, webpushfake.Options{}, webpush.Config{})
	tok := f.token(t, 1)
	j := newJob(tok)
	badge := 3
	expiry := time.Now().Add(90 * time.Second)
	j.Notification = events.Notification{
		Title: "Grüße", Body: strings.Repeat("ünïcödé ", 40), Badge: &badge, CollapseKey: "scores_42",
		Data:     map[string]any{"url": "/match/42", "n": 7.5, "nested": map[string]any{"a": []any{"x", true}}},
		Priority: events.PriorityHigh, Expiry: &expiry,
	}
	rs := send(t, f.sender, j)
	providertest.WantKind(t, rs[0], provider.Delivered)
	if rs[0].Reason != "Created" {
		t.Errorf("reason %q, want Created (201)", rs[0].Reason)
	}
	reqs := f.fake.Requests()
	if len(reqs) != 1 {
		t.Fatalf("fake recorded %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	want, _ := json.Marshal(webpush.Payload{Title: j.Notification.Title, Body: j.Notification.Body, Tag: "scores_42",
		Badge: &badge, Data: j.Notification.Data})
	if string(r.Payload) != string(want) {
		t.Fatalf("decrypted payload\n%s\nwant\n%s", r.Payload, want)
	}
	var got webpush.Payload
	if err := json.Unmarshal(r.Payload, &got); err != nil || got.Title != "Grüße" || got.Data["url"] != "/match/42" {
		t.Fatalf("payload %s does not decode to the notification (%v)", r.Payload, err)
	}
	if r.BodySize != webpush.DefaultRecordSize {
		t.Errorf("encrypted body %d bytes, want padded to the record size %d", r.BodySize, webpush.DefaultRecordSize)
	}
	if r.TTL < 85 || r.TTL > 90 {
		t.Errorf("TTL %d, want the 90s left until the expiry", r.TTL)
	}
	if r.Urgency != "high" || r.Topic != "scores_42" {
		t.Errorf("Urgency %q Topic %q, want high and scores_42", r.Urgency, r.Topic)
	}
	if r.Proto != "HTTP/2.0" {
		t.Errorf("protocol %s, want HTTP/2.0", r.Proto)
	}
	if r.Audience != f.fake.URL() || r.Subject != testSubject {
		t.Errorf("JWT aud %q sub %q, want %q and %q", r.Audience, r.Subject, f.fake.URL(), testSubject)
	}
	if life := time.Until(r.Expiry); life <= 0 || life > 24*time.Hour {
		t.Errorf("JWT exp %v ahead, want within 24h (RFC 8292)", life)
	}
}

func TestTTLAndUrgencyDefaults(t *testing.T) {
	f := newFixture(t, webpushfake.Options{}, webpush.Config{MaxTTL: time.Hour})
	cases := []struct {
		name     string
		priority events.Priority
		expiry   time.Duration // 0: none
		urgency  string
		ttlMin   int
		ttlMax   int
	}{
		{"no expiry is MaxTTL, no priority no header", "", 0, "", 3600, 3600},
		{"normal priority", events.PriorityNormal, 0, "normal", 3600, 3600},
		{"far expiry clamped to MaxTTL", events.PriorityHigh, 48 * time.Hour, "high", 3600, 3600},
		{"near expiry", "", 30 * time.Second, "", 25, 30},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := newJob(f.token(t, 10+i))
			j.Notification.Priority = tc.priority
			if tc.expiry > 0 {
				e := time.Now().Add(tc.expiry)
				j.Notification.Expiry = &e
			}
			providertest.WantKind(t, send(t, f.sender, j)[0], provider.Delivered)
			reqs := f.fake.Requests()
			r := reqs[len(reqs)-1]
			if r.Urgency != tc.urgency || r.TTL < tc.ttlMin || r.TTL > tc.ttlMax {
				t.Fatalf("Urgency %q TTL %d, want %q and [%d, %d]", r.Urgency, r.TTL, tc.urgency, tc.ttlMin, tc.ttlMax)
			}
			if r.Topic != "" {
				t.Fatalf("Topic %q without a collapse key", r.Topic)
			}
		})
	}
}

// TestCollapseKeyNotATopic: a collapse key outside RFC 8030's topic alphabet
// stays in the payload's tag and sends no Topic header.
func TestCollapseKeyNotATopic(t *testing.T) {
	f := newFixture(t, webpushfake.Options{}, webpush.Config{})
	j := newJob(f.token(t, 1))
	j.Notification.CollapseKey = "not a topic: spaces"
	providertest.WantKind(t, send(t, f.sender, j)[0], provider.Delivered)
	r := f.fake.Requests()[0]
	if r.Topic != "" || !strings.Contains(string(r.Payload), `"tag":"not a topic: spaces"`) {
		t.Fatalf("Topic %q payload %s", r.Topic, r.Payload)
	}
}

// TestVAPIDRejectedWhenKeyIsWrong: subscriptions are bound to the key the
// page subscribed with; an app signing with another key is refused (403)
// and the result is a CredentialError, the token kept.
func TestVAPIDRejectedWhenKeyIsWrong(t *testing.T) {
	f := newFixture(t, webpushfake.Options{}, webpush.Config{})
	other := newVAPID(t)
	tok, err := f.fake.Subscribe(other.public) // bound to a key the app does not have
	if err != nil {
		t.Fatal(err)
	}
	r := send(t, f.sender, newJob(tok))[0]
	providertest.WantKind(t, r, provider.CredentialError)
	if !errors.Is(r.Err, provider.ErrCredentials) || r.Reason != "Forbidden" {
		t.Fatalf("reason %q err %v, want Forbidden and ErrCredentials", r.Reason, r.Err)
	}
	if f.fake.Delivered(tok) != 0 {
		t.Fatal("delivered although VAPID was rejected")
	}
}

// TestClassification drives every answer of the table in the package doc
// through the fake, over the wire.
func TestClassification(t *testing.T) {
	f := newFixture(t, webpushfake.Options{}, webpush.Config{})
	cases := []struct {
		status     int
		retryAfter time.Duration
		kind       provider.Kind
		err        error
		reason     string
	}{
		{http.StatusNotFound, 0, provider.InvalidToken, provider.ErrInvalidToken, "NotFound"},
		{http.StatusGone, 0, provider.InvalidToken, provider.ErrInvalidToken, "Gone"},
		{http.StatusRequestEntityTooLarge, 0, provider.Permanent, provider.ErrPayloadTooLarge, "RequestEntityTooLarge"},
		{http.StatusTooManyRequests, 30 * time.Second, provider.Retry, provider.ErrRateLimited, "TooManyRequests"},
		{http.StatusTooManyRequests, 0, provider.Retry, provider.ErrRateLimited, "TooManyRequests"},
		{http.StatusInternalServerError, 0, provider.Retry, provider.ErrUnavailable, "InternalServerError"},
		{http.StatusBadGateway, 0, provider.Retry, provider.ErrUnavailable, "BadGateway"},
		{http.StatusServiceUnavailable, 5 * time.Second, provider.Retry, provider.ErrUnavailable, "ServiceUnavailable"},
		{http.StatusBadRequest, 0, provider.Permanent, provider.ErrBadMessage, "BadRequest"},
		{http.StatusUnauthorized, 0, provider.CredentialError, provider.ErrCredentials, "Unauthorized"},
		{http.StatusForbidden, 0, provider.CredentialError, provider.ErrCredentials, "Forbidden"},
		{http.StatusMethodNotAllowed, 0, provider.Permanent, provider.ErrBadMessage, "MethodNotAllowed"},
		{http.StatusOK, 0, provider.Delivered, nil, "OK"},
		{http.StatusAccepted, 0, provider.Delivered, nil, "Accepted"},
	}
	tok := f.token(t, 1)
	for _, tc := range cases {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			f.fake.FailNextWith(1, tc.status, tc.retryAfter)
			r := send(t, f.sender, newJob(tok))[0]
			providertest.WantKind(t, r, tc.kind)
			if tc.err != nil && !errors.Is(r.Err, tc.err) {
				t.Errorf("err %v, want %v", r.Err, tc.err)
			}
			if r.Reason != tc.reason {
				t.Errorf("reason %q, want %q", r.Reason, tc.reason)
			}
			if r.RetryAfter != tc.retryAfter {
				t.Errorf("RetryAfter %v, want %v", r.RetryAfter, tc.retryAfter)
			}
			if r.AnsweredAt.IsZero() || !r.Sent() {
				t.Error("an answered request has no AnsweredAt or is not Sent")
			}
		})
	}
	t.Run("real 404 and 410", func(t *testing.T) {
		gone, err := f.fake.SubscribeGone(f.keys.public)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := webpush.ParseToken(f.token(t, 2))
		s.Endpoint = f.fake.URL() + "/push/never-subscribed"
		rs := send(t, f.sender, newJob(gone, webpush.Token(s), f.token(t, 3)))
		providertest.WantKind(t, rs[0], provider.InvalidToken)
		providertest.WantKind(t, rs[1], provider.InvalidToken)
		providertest.WantKind(t, rs[2], provider.Delivered)
		if rs[0].Reason != "Gone" || rs[1].Reason != "NotFound" {
			t.Fatalf("reasons %q %q, want Gone and NotFound", rs[0].Reason, rs[1].Reason)
		}
	})
	t.Run("real 413", func(t *testing.T) {
		small := newFixture(t, webpushfake.Options{MaxBody: 3070}, webpush.Config{})
		r := send(t, small.sender, newJob(small.token(t, 1)))[0]
		providertest.WantKind(t, r, provider.Permanent)
		if !errors.Is(r.Err, provider.ErrPayloadTooLarge) {
			t.Fatalf("err %v, want ErrPayloadTooLarge", r.Err)
		}
		s := small.newSender(t, webpush.Config{RootCAs: small.fake.CertPool(), RecordSize: 3070})
		providertest.WantKind(t, send(t, s, newJob(small.token(t, 1)))[0], provider.Delivered)
	})
}

// TestBadTokensNotSent: tokens that are not subscriptions are InvalidToken
// without a request; the job's other tokens go out.
func TestBadTokensNotSent(t *testing.T) {
	f := newFixture(t, webpushfake.Options{}, webpush.Config{})
	good := f.token(t, 1)
	s, _ := webpush.ParseToken(good)
	plain := s
	plain.Endpoint = strings.Replace(s.Endpoint, "https://", "http://", 1)
	shortAuth := s
	shortAuth.Keys.Auth = "AAAA"
	tokens := []string{"deadbeef", good, webpush.Token(plain), webpush.Token(shortAuth), ""}
	rs := send(t, f.sender, newJob(tokens...))
	for i, r := range rs {
		want := provider.InvalidToken
		if i == 1 {
			want = provider.Delivered
		}
		providertest.WantKind(t, r, want)
		if want == provider.InvalidToken && (r.Sent() && !errors.Is(r.Err, webpush.ErrBadSubscription)) {
			t.Errorf("token %d: err %v, want ErrBadSubscription", i, r.Err)
		}
	}
	if n := len(f.fake.RequestTimes()); n != 1 {
		t.Fatalf("%d requests, want 1 (bad tokens are never sent)", n)
	}
}

// TestOneConnectionPerPushService: the tokens of many jobs share one HTTP/2
// connection to the push service host.
func TestOneConnectionPerPushService(t *testing.T) {
	f := newFixture(t, webpushfake.Options{}, webpush.Config{})
	tokens := make([]string, 30)
	for i := range tokens {
		tokens[i] = f.token(t, i)
	}
	for range 3 {
		for _, r := range send(t, f.sender, newJob(tokens...)) {
			providertest.WantKind(t, r, provider.Delivered)
		}
	}
	if n := f.fake.Connections(); n != 1 {
		t.Fatalf("%d connections to one push service, want 1", n)
	}
	jwts := map[string]bool{}
	for _, r := range f.fake.Requests() {
		if r.Proto != "HTTP/2.0" {
			t.Fatalf("request over %s, want HTTP/2.0", r.Proto)
		}
		jwts[r.JWT] = true
	}
	if len(jwts) != 1 {
		t.Fatalf("%d distinct VAPID JWTs for one (app, push service), want 1 (cached)", len(jwts))
	}
}

// TestHTTP1Service: a push service without HTTP/2 is served over kept-alive
// HTTP/1.1 connections, at most MaxConnsPerHost of them.
func TestHTTP1Service(t *testing.T) {
	f := newFixture(t, webpushfake.Options{HTTP1Only: true}, webpush.Config{MaxInFlight: 8, MaxConnsPerHost: 4})
	tokens := make([]string, 12)
	for i := range tokens {
		tokens[i] = f.token(t, i)
	}
	for range 2 {
		for _, r := range send(t, f.sender, newJob(tokens...)) {
			providertest.WantKind(t, r, provider.Delivered)
		}
	}
	if n := f.fake.Connections(); n > 4 {
		t.Fatalf("%d connections for 24 requests, want at most MaxConnsPerHost 4, reused", n)
	}
	for _, r := range f.fake.Requests() {
		if r.Proto != "HTTP/1.1" {
			t.Fatalf("request over %s, want HTTP/1.1", r.Proto)
		}
	}
}

// TestUpdateApps: keys are hot-reloaded; a removed app is unknown.
func TestUpdateApps(t *testing.T) {
	f := newFixture(t, webpushfake.Options{}, webpush.Config{})
	rotated := newVAPID(t)
	tok, err := f.fake.Subscribe(rotated.public)
	if err != nil {
		t.Fatal(err)
	}
	providertest.WantKind(t, send(t, f.sender, newJob(tok))[0], provider.CredentialError)
	if err := f.sender.UpdateApps(map[string]webpush.AppConfig{testApp: rotated.app()}); err != nil {
		t.Fatal(err)
	}
	providertest.WantKind(t, send(t, f.sender, newJob(tok))[0], provider.Delivered)

	bad := rotated.app()
	bad.PublicKey = f.keys.app().PublicKey
	if err := f.sender.UpdateApps(map[string]webpush.AppConfig{testApp: bad}); err == nil {
		t.Fatal("a public key that is not the private key's was accepted")
	}
	providertest.WantKind(t, send(t, f.sender, newJob(tok))[0], provider.Delivered) // unchanged on error

	if err := f.sender.UpdateApps(map[string]webpush.AppConfig{}); err != nil {
		t.Fatal(err)
	}
	r := send(t, f.sender, newJob(tok))[0]
	if r.Kind != provider.Permanent || !errors.Is(r.Err, provider.ErrUnknownApp) {
		t.Fatalf("removed app: %v %v", r.Kind, r.Err)
	}
	if err := f.sender.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.sender.UpdateApps(nil); !errors.Is(err, webpush.ErrClosed) {
		t.Fatalf("UpdateApps after Close: %v", err)
	}
}

// TestCloseEndsRequestsInFlight: Close answers Retry for requests in
// flight instead of waiting for a slow push service.
func TestCloseEndsRequestsInFlight(t *testing.T) {
	f := newFixture(t, webpushfake.Options{}, webpush.Config{})
	f.fake.SetLatency(time.Minute)
	tok := f.token(t, 1)
	done := make(chan []provider.Result)
	go func() { done <- f.sender.Send(context.Background(), newJob(tok)) }()
	time.Sleep(200 * time.Millisecond)
	f.sender.Close()
	select {
	case rs := <-done:
		providertest.WantKind(t, rs[0], provider.Retry)
	case <-time.After(5 * time.Second):
		t.Fatal("Send still waiting 5s after Close")
	}
}
