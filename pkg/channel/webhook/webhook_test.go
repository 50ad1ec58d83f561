package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/channel/webhook"
	"github.com/pushfleet/pushfleet/pkg/channel/webhook/webhooktest"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

var secret = []byte("0123456789abcdef-shop-secret")

func secretFile(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, append(b, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newSender(t *testing.T, rcv *webhooktest.Receiver, o webhook.Options) *webhook.Sender {
	t.Helper()
	o.Roots = rcv.Roots
	s, err := webhook.New(map[string]webhook.AppConfig{"shop": {URL: rcv.URL, SecretFile: secretFile(t, secret)}}, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The webhook sender passes the conformance suite every provider passes,
// against the fake receiver (TLS, signature and timestamp checked).
func TestConformance(t *testing.T) {
	providertest.Run(t, func(t *testing.T) *providertest.Harness {
		rcv := webhooktest.New(t, secret)
		return &providertest.Harness{
			Platform: webhook.Platform, App: "shop", Fake: rcv,
			Sender:   newSender(t, rcv, webhook.Options{}),
			Serial:   newSender(t, rcv, webhook.Options{MaxRequests: 1}),
			Token:    func(i int) string { return "subscriber-" + strconv.Itoa(i) },
			Features: providertest.Features{MaxBatch: 100, RetryAfter: true, MaxPayload: webhook.MaxBody},
		}
	})
}

func job(tokens ...string) *events.Job {
	return &events.Job{ID: "j1", IntentID: "i1", App: "shop", Platform: webhook.Platform, Tokens: tokens,
		Notification: events.Notification{Title: "Hi", Body: "there", Data: map[string]any{"order": 42}}, CreatedAt: time.Now()}
}

// Every request is signed so that the receiver can verify it; the body
// carries the notification, the token and a delivery id stable across
// retries; a retried token is signed again with a fresh timestamp.
func TestRequestsAreSignedAndIdempotent(t *testing.T) {
	rcv := webhooktest.New(t, secret)
	s := newSender(t, rcv, webhook.Options{})
	ctx := context.Background()
	rcv.FailNext(1, providertest.Unavailable, 0)
	if rs := s.Send(ctx, job("a")); rs[0].Kind != provider.Retry {
		t.Fatalf("503: %+v", rs[0])
	}
	j := job("a")
	j.Attempt = 1
	if rs := s.Send(ctx, j); rs[0].Kind != provider.Delivered {
		t.Fatalf("retry: %+v", rs[0])
	}
	got := rcv.Received()
	if len(got) != 1 || len(rcv.Rejected()) != 0 {
		t.Fatalf("received %+v, rejected %v", got, rcv.Rejected())
	}
	b := got[0].Body
	n, _ := b["notification"].(map[string]any)
	if b["token"] != "a" || b["app"] != "shop" || b["intent_id"] != "i1" || b["attempt"] != 1.0 || n["title"] != "Hi" ||
		got[0].Delivery == "" || got[0].Delivery != b["id"] {
		t.Fatalf("body %v", b)
	}
	// The same token of the same intent in another job keeps its id.
	j2 := job("a")
	j2.ID = "j2"
	s.Send(ctx, j2)
	if got := rcv.Received(); got[1].Delivery != got[0].Delivery {
		t.Fatalf("delivery ids %q and %q differ for one token of one intent", got[0].Delivery, got[1].Delivery)
	}
}

// The receiver refuses a wrong secret (401: a credential error that pauses
// the app) and a timestamp outside its window (a replay, or a skewed clock).
func TestReceiverRejectsBadSignaturesAndStaleTimestamps(t *testing.T) {
	rcv := webhooktest.New(t, []byte("another-secret-of-the-receiver"))
	s := newSender(t, rcv, webhook.Options{})
	rs := s.Send(context.Background(), job("a"))
	if rs[0].Kind != provider.CredentialError || !errors.Is(rs[0].Err, provider.ErrCredentials) {
		t.Fatalf("wrong secret: %+v", rs[0])
	}
	rcv2 := webhooktest.New(t, secret)
	rcv2.SetNow(func() time.Time { return time.Now().Add(6 * time.Minute) })
	s2 := newSender(t, rcv2, webhook.Options{})
	if rs := s2.Send(context.Background(), job("a")); rs[0].Kind != provider.CredentialError {
		t.Fatalf("stale timestamp: %+v", rs[0])
	}
	if fmt.Sprint(rcv.Rejected(), rcv2.Rejected()) != "[signature] [timestamp]" {
		t.Fatalf("rejected %v %v", rcv.Rejected(), rcv2.Rejected())
	}
}

// Sign and Verify implement the documented scheme; Verify accepts any of
// several signatures (rotation) and refuses tampering, a missing header or
// a timestamp out of the window.
func TestSignVerify(t *testing.T) {
	body := []byte(`{"token":"a"}`)
	now := time.Unix(1767225600, 0)
	sig := webhook.Sign(secret, now.Unix(), body)
	// HMAC-SHA256("0123456789abcdef-shop-secret", `1767225600.{"token":"a"}`), computed with
	// printf '%s' '1767225600.{"token":"a"}' | openssl dgst -sha256 -hmac '0123456789abcdef-shop-secret'
	const want = "v1=b8b73c74eef6e9f6875b8967fba8b5ab4bd6c9b7126051782d7f0e3d41fc88e4"
	if sig != want {
		t.Fatalf("Sign = %s, want %s (docs/channels.md's scheme)", sig, want)
	}
	h := http.Header{}
	h.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(webhook.HeaderSignature, "v1=deadbeef, "+sig)
	if err := webhook.Verify(secret, h, body, now.Add(time.Minute), 0); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		body []byte
		now  time.Time
		sig  string
		want error
	}{
		"tampered":  {[]byte(`{"token":"b"}`), now, sig, webhook.ErrSignature},
		"stale":     {body, now.Add(6 * time.Minute), sig, webhook.ErrTimestamp},
		"future":    {body, now.Add(-6 * time.Minute), sig, webhook.ErrTimestamp},
		"unsigned":  {body, now, "", webhook.ErrNoSignature},
		"other key": {body, now, webhook.Sign([]byte("x"), now.Unix(), body), webhook.ErrSignature},
	} {
		h := http.Header{}
		h.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
		if tc.sig != "" {
			h.Set(webhook.HeaderSignature, tc.sig)
		}
		if err := webhook.Verify(secret, h, tc.body, tc.now, 0); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

func TestAppConfigValidate(t *testing.T) {
	for _, c := range []webhook.AppConfig{
		{URL: "http://x.example/p", SecretFile: "s"},
		{URL: "https://u:p@x.example/p", SecretFile: "s"},
		{URL: "https://x.example/p"},
		{SecretFile: "s"},
		{URL: "/relative", SecretFile: "s"},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: valid", c)
		}
	}
	if _, err := webhook.New(map[string]webhook.AppConfig{"shop": {URL: "https://x.example", SecretFile: secretFile(t, []byte("short"))}}, webhook.Options{}); err == nil {
		t.Error("a 5-byte secret accepted")
	}
}
