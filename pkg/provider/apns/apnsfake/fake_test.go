package apnsfake

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"golang.org/x/net/http2"

	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
)

const (
	kid   = "KEYID12345"
	team  = "TEAMID1234"
	topic = "com.example.fake"
	tok   = "a1b2c3d4e5f6"
)

// rawClient speaks HTTP/2 to the fake without the sender, to craft any
// request.
func rawClient(t *testing.T, s *Server) *http.Client {
	t.Helper()
	var p http.Protocols
	p.SetHTTP2(true)
	tr := &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{RootCAs: s.CertPool()}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

func sign(t *testing.T, key *ecdsa.PrivateKey, keyID, iss string, iat time.Time) string {
	t.Helper()
	j := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iss": iss, "iat": iat.Unix()})
	j.Header["kid"] = keyID
	s, err := j.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAppleChecks drives each check of the fake with a crafted request,
// with and without wire counting (another HTTP/2 server underneath).
func TestAppleChecks(t *testing.T) {
	t.Run("plain", func(t *testing.T) { testAppleChecks(t, Options{}) })
	t.Run("wire counted", func(t *testing.T) {
		var w fakeserver.WireCounter
		n := testAppleChecks(t, Options{Wire: &w})
		if got := w.Snapshot().In.Frame(http2.FrameHeaders); got != int64(n) {
			t.Fatalf("counted %d HEADERS frames for %d requests", got, n)
		}
	})
}

// testAppleChecks runs the checks against a fake started with opts and
// returns how many requests it made.
func testAppleChecks(t *testing.T, opts Options) int {
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s.AddKey(kid, team, &key.PublicKey, topic)
	good := "bearer " + sign(t, key, kid, team, time.Now())
	client := rawClient(t, s)

	tests := []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		body    string
		status  int
		reason  string
	}{
		{"delivered", "POST", "/3/device/" + tok, nil, `{"aps":{}}`, 200, ""},
		{"GET", "GET", "/3/device/" + tok, nil, "", 405, "MethodNotAllowed"},
		{"bad path", "POST", "/2/device/" + tok, nil, `{}`, 404, "BadPath"},
		{"missing token", "POST", "/3/device/", nil, `{}`, 400, "MissingDeviceToken"},
		{"non-hex token", "POST", "/3/device/xyz", nil, `{}`, 400, "BadDeviceToken"},
		{"no auth", "POST", "/3/device/" + tok, map[string]string{"authorization": ""}, `{}`, 403, "MissingProviderToken"},
		{"garbage JWT", "POST", "/3/device/" + tok, map[string]string{"authorization": "bearer abc.def.ghi"}, `{}`, 403, "InvalidProviderToken"},
		{"wrong signature", "POST", "/3/device/" + tok, map[string]string{"authorization": "bearer " + sign(t, other, kid, team, time.Now())}, `{}`, 403, "InvalidProviderToken"},
		{"wrong team", "POST", "/3/device/" + tok, map[string]string{"authorization": "bearer " + sign(t, key, kid, "OTHER", time.Now())}, `{}`, 403, "InvalidProviderToken"},
		{"unknown kid", "POST", "/3/device/" + tok, map[string]string{"authorization": "bearer " + sign(t, key, "NOPE", team, time.Now())}, `{}`, 403, "InvalidProviderToken"},
		{"iat over an hour old", "POST", "/3/device/" + tok, map[string]string{"authorization": "bearer " + sign(t, key, kid, team, time.Now().Add(-61*time.Minute))}, `{}`, 403, "ExpiredProviderToken"},
		{"missing topic", "POST", "/3/device/" + tok, map[string]string{"apns-topic": ""}, `{}`, 400, "MissingTopic"},
		{"foreign topic", "POST", "/3/device/" + tok, map[string]string{"apns-topic": "com.other"}, `{}`, 400, "TopicDisallowed"},
		{"voip without suffix", "POST", "/3/device/" + tok, map[string]string{"apns-push-type": "voip"}, `{}`, 400, "BadTopic"},
		{"voip with suffix", "POST", "/3/device/" + tok, map[string]string{"apns-push-type": "voip", "apns-topic": topic + ".voip"}, strings.Repeat("x", 5000), 200, ""},
		{"bad push type", "POST", "/3/device/" + tok, map[string]string{"apns-push-type": "smoke"}, `{}`, 400, "InvalidPushType"},
		{"bad priority", "POST", "/3/device/" + tok, map[string]string{"apns-priority": "7"}, `{}`, 400, "BadPriority"},
		{"background at 10", "POST", "/3/device/" + tok, map[string]string{"apns-push-type": "background", "apns-priority": "10"}, `{}`, 400, "BadPriority"},
		{"bad expiration", "POST", "/3/device/" + tok, map[string]string{"apns-expiration": "soon"}, `{}`, 400, "BadExpirationDate"},
		{"long collapse id", "POST", "/3/device/" + tok, map[string]string{"apns-collapse-id": strings.Repeat("c", 65)}, `{}`, 400, "BadCollapseId"},
		{"bad apns-id", "POST", "/3/device/" + tok, map[string]string{"apns-id": "123"}, `{}`, 400, "BadMessageId"},
		{"empty payload", "POST", "/3/device/" + tok, nil, "", 400, "PayloadEmpty"},
		{"payload over 4096", "POST", "/3/device/" + tok, nil, strings.Repeat("x", 4097), 413, "PayloadTooLarge"},
		{"dead prefix", "POST", "/3/device/" + DeadPrefix + "beef", nil, `{}`, 410, "Unregistered"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(context.Background(), tc.method, s.URL()+tc.path, strings.NewReader(tc.body))
			req.Header.Set("authorization", good)
			req.Header.Set("apns-topic", topic)
			for k, v := range tc.headers {
				if v == "" {
					req.Header.Del(k)
				} else {
					req.Header.Set(k, v)
				}
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.ProtoMajor != 2 {
				t.Fatalf("proto %s, want HTTP/2", resp.Proto)
			}
			var body struct {
				Reason    string
				Timestamp *int64
			}
			b, _ := io.ReadAll(resp.Body)
			if len(b) > 0 {
				if err := json.Unmarshal(b, &body); err != nil {
					t.Fatalf("body %q: %v", b, err)
				}
			}
			if resp.StatusCode != tc.status || body.Reason != tc.reason {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body.Reason, tc.status, tc.reason)
			}
			if tc.status == 410 && body.Timestamp == nil {
				t.Fatal("410 without a timestamp")
			}
			if resp.Header.Get("apns-id") == "" {
				t.Fatal("no apns-id in the answer")
			}
		})
	}
	if n := s.Delivered(tok); n != 2 {
		t.Fatalf("Delivered = %d, want 2", n)
	}
	if n := s.JWTs(kid); n != 2 { // good and the hour-old one
		t.Fatalf("JWTs = %d, want 2", n)
	}
	return len(tests)
}

// TestHTTP1Refused: the fake speaks HTTP/2 only, as APNs does.
func TestHTTP1Refused(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CertPool(), NextProtos: []string{"http/1.1"}}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Post(s.URL()+"/3/device/"+tok, "application/json", strings.NewReader("{}"))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("HTTP/1.1 request answered %s", resp.Status)
	}
}
