package webpushfake

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	webpushlib "github.com/SherClockHolmes/webpush-go"
)

func subscriptionOf(t *testing.T, token string) *webpushlib.Subscription {
	t.Helper()
	var s webpushlib.Subscription
	if err := json.Unmarshal([]byte(token), &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// TestLibraryInterop: what the reference library (webpush-go) sends decrypts
// in the fake to the bytes it was given, and its VAPID header verifies: the
// fake's RFC 8291 receiver and RFC 8292 checks agree with an independent
// sender.
func TestLibraryInterop(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	priv, pub, err := webpushlib.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	pubRaw, _ := base64.RawURLEncoding.DecodeString(pub)
	tok, err := s.Subscribe(pubRaw)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CertPool()}, ForceAttemptHTTP2: true}}
	msg := []byte(`{"title":"interop","body":"ünïcödé"}`)
	send := func(privKey string) int {
		resp, err := webpushlib.SendNotificationWithContext(context.Background(), msg[:len(msg):len(msg)], subscriptionOf(t, tok),
			&webpushlib.Options{HTTPClient: client, Subscriber: "ops@example.com", TTL: 30, Urgency: webpushlib.UrgencyLow,
				VAPIDPublicKey: pub, VAPIDPrivateKey: privKey})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(priv); code != http.StatusCreated {
		t.Fatalf("status %d, want 201", code)
	}
	reqs := s.Requests()
	if len(reqs) != 1 || string(reqs[0].Payload) != string(msg) || reqs[0].Urgency != "low" || reqs[0].TTL != 30 {
		t.Fatalf("recorded %+v", reqs)
	}
	if reqs[0].Subject != "mailto:ops@example.com" || reqs[0].Audience != s.URL() {
		t.Fatalf("sub %q aud %q", reqs[0].Subject, reqs[0].Audience)
	}
	// A JWT signed with another key than k= names.
	otherPriv, _, _ := webpushlib.GenerateVAPIDKeys()
	if code := send(otherPriv); code != http.StatusUnauthorized {
		t.Fatalf("JWT signed by another key than k=: status %d, want 401", code)
	}
	if s.Delivered(tok) != 1 {
		t.Fatalf("Delivered %d, want 1", s.Delivered(tok))
	}
}

// jwt signs claims with key as a VAPID JWT.
func jwt(t *testing.T, key *ecdsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	c, _ := json.Marshal(claims)
	in := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"ES256"}`)) + "." + base64.RawURLEncoding.EncodeToString(c)
	d := sha256.Sum256([]byte(in))
	r, ss, err := ecdsa.Sign(rand.Reader, key, d[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestVerifyVAPID(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ek, _ := key.ECDH()
	k := base64.RawURLEncoding.EncodeToString(ek.PublicKey().Bytes())
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	const origin = "https://127.0.0.1:4443"
	now := time.Now()
	claims := func(aud string, exp time.Duration, sub string) map[string]any {
		return map[string]any{"aud": aud, "exp": now.Add(exp).Unix(), "sub": sub}
	}
	ok := claims(origin, 12*time.Hour, "mailto:ops@example.com")
	cases := []struct {
		name   string
		header string
		pass   bool
	}{
		{"valid", "vapid t=" + jwt(t, key, ok) + ", k=" + k, true},
		{"https subject", "vapid t=" + jwt(t, key, claims(origin, time.Hour, "https://example.com/contact")) + ", k=" + k, true},
		{"missing", "", false},
		{"bearer", "Bearer " + jwt(t, key, ok), false},
		{"no k", "vapid t=" + jwt(t, key, ok), false},
		{"signed by another key", "vapid t=" + jwt(t, other, ok) + ", k=" + k, false},
		{"aud with path", "vapid t=" + jwt(t, key, claims(origin+"/push", time.Hour, "mailto:a@b")) + ", k=" + k, false},
		{"other aud", "vapid t=" + jwt(t, key, claims("https://fcm.googleapis.com", time.Hour, "mailto:a@b")) + ", k=" + k, false},
		{"expired", "vapid t=" + jwt(t, key, claims(origin, -time.Minute, "mailto:a@b")) + ", k=" + k, false},
		{"exp over 24h", "vapid t=" + jwt(t, key, claims(origin, 25*time.Hour, "mailto:a@b")) + ", k=" + k, false},
		{"bare email subject", "vapid t=" + jwt(t, key, claims(origin, time.Hour, "a@b")) + ", k=" + k, false},
		{"mailto twice", "vapid t=" + jwt(t, key, claims(origin, time.Hour, "mailto:mailto:a@b")) + ", k=" + k, false},
	}
	for _, tc := range cases {
		v, aerr := verifyVAPID(tc.header, origin, now, DefaultMaxJWTLife)
		if (aerr == nil) != tc.pass {
			t.Errorf("%s: verified=%v (%+v), want %v", tc.name, aerr == nil, aerr, tc.pass)
		}
		if aerr != nil && aerr.status != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", tc.name, aerr.status)
		}
		if v != nil && v.audience != origin {
			t.Errorf("%s: audience %q", tc.name, v.audience)
		}
	}
}

func TestDecryptRejectsTampering(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	priv, pub, _ := webpushlib.GenerateVAPIDKeys()
	pubRaw, _ := base64.RawURLEncoding.DecodeString(pub)
	tok, _ := s.Subscribe(pubRaw)
	// Encrypt to the subscription with the library into a capturing client.
	var body []byte
	_, err = webpushlib.SendNotificationWithContext(context.Background(), []byte("secret"), subscriptionOf(t, tok),
		&webpushlib.Options{HTTPClient: captureClient(func(b []byte) { body = b }), Subscriber: "a@b", TTL: 1,
			VAPIDPublicKey: pub, VAPIDPrivateKey: priv})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	sub := s.byToken[tok]
	s.mu.Unlock()
	if got, err := decrypt(body, sub.key, sub.auth); err != nil || string(got) != "secret" {
		t.Fatalf("decrypt: %q %v", got, err)
	}
	body[len(body)-1] ^= 1
	if _, err := decrypt(body, sub.key, sub.auth); err == nil {
		t.Fatal("a tampered record decrypted")
	}
	wrong, _ := ecdh.P256().GenerateKey(rand.Reader)
	body[len(body)-1] ^= 1
	if _, err := decrypt(body, wrong, sub.auth); err == nil {
		t.Fatal("decrypted with another subscription's key")
	}
	if !strings.HasPrefix(tok, `{"endpoint":"`+s.URL()+`/push/`) {
		t.Fatalf("token %s", tok)
	}
}

type captureClient func([]byte)

func (c captureClient) Do(req *http.Request) (*http.Response, error) {
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	c(b)
	return &http.Response{StatusCode: 201, Body: http.NoBody}, nil
}
