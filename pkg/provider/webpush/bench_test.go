package webpush_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	webpushlib "github.com/SherClockHolmes/webpush-go"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/webpush"
	"github.com/pushfleet/pushfleet/pkg/provider/webpush/webpushfake"
)

// nopClient answers 201 without a network: what is left is webpush-go's
// per-message work, encryption and VAPID signing.
type nopClient struct{}

func (nopClient) Do(req *http.Request) (*http.Response, error) {
	io.Copy(io.Discard, req.Body)
	return &http.Response{StatusCode: http.StatusCreated, Body: http.NoBody, Header: http.Header{}}, nil
}

func benchSubscription(b *testing.B) (*webpushlib.Subscription, vapidKeys) {
	f := newFixture(b, webpushfake.Options{}, webpush.Config{})
	s, err := webpush.ParseToken(f.token(b, 1))
	if err != nil {
		b.Fatal(err)
	}
	return &webpushlib.Subscription{Endpoint: s.Endpoint, Keys: webpushlib.Keys{P256dh: s.Keys.P256dh, Auth: s.Keys.Auth}}, f.keys
}

// BenchmarkLibraryEncryptSign is webpush-go's cost per message: a fresh
// ephemeral key and ECDH (RFC 8291), HKDF, AES-GCM over the record padded
// to 4096 bytes, and a fresh ES256 VAPID JWT (webpush-go signs every
// message and offers no way to reuse a JWT).
func BenchmarkLibraryEncryptSign(b *testing.B) {
	sub, keys := benchSubscription(b)
	app := keys.app()
	payload, _ := json.Marshal(webpush.Payload{Title: "hello", Body: strings.Repeat("x", 200), Data: map[string]any{"k": "v"}})
	opts := &webpushlib.Options{HTTPClient: nopClient{}, Subscriber: "ops@example.com", TTL: 60,
		VAPIDPublicKey: app.PublicKey, VAPIDPrivateKey: app.PrivateKey}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := webpushlib.SendNotificationWithContext(context.Background(), payload[:len(payload):len(payload)], sub, opts)
		if err != nil || resp.StatusCode != http.StatusCreated {
			b.Fatal(err)
		}
	}
}

// BenchmarkVAPIDSignOnly is the ES256 signature alone, what a JWT cache
// per (app, audience) would save per message.
func BenchmarkVAPIDSignOnly(b *testing.B) {
	key, err := ecdsa.GenerateKey(ecdsaCurve(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	claims, _ := json.Marshal(map[string]any{"aud": "https://push.example", "exp": time.Now().Add(12 * time.Hour).Unix(), "sub": "mailto:ops@example.com"})
	input := `eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.` + base64.RawURLEncoding.EncodeToString(claims)
	b.ReportAllocs()
	for b.Loop() {
		d := sha256.Sum256([]byte(input))
		if _, err := ecdsa.SignASN1(rand.Reader, key, d[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendFake is one message end to end through the Sender against
// the fake on loopback (TLS, HTTP/2, the fake decrypting and verifying):
// an upper bound of one process's throughput on this machine.
func BenchmarkSendFake(b *testing.B) {
	f := newFixture(b, webpushfake.Options{}, webpush.Config{})
	tokens := make([]string, 50)
	for i := range tokens {
		tokens[i] = f.token(b, i)
	}
	j := newJob(tokens...)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		for _, r := range f.sender.Send(context.Background(), j) {
			if r.Kind != provider.Delivered {
				b.Fatal(r)
			}
		}
		n += len(tokens)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/msg")
}
