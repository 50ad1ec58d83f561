package fcm_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm/fcmfake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

// wireInFlight is how many notifications each client keeps in flight.
const wireInFlight = 100

// BenchmarkWireFCM compares what one FCM v1 send request costs on the wire:
// a minimal direct HTTP v1 client (net/http, OAuth bearer, the same JSON
// message) against pushfleet's Sender (Firebase Admin SDK) with one-token
// and 100-token jobs, on the same in-process fake counting the wire
// (fakeserver.WireCounter). cpu-µs/req includes the fake.
func BenchmarkWireFCM(b *testing.B) {
	n := events.Notification{Title: "hello", Body: "world", Data: map[string]any{"k": "v"}}
	setup := func(b *testing.B) (*fcmfake.Server, fcm.AppConfig, *fakeserver.WireCounter) {
		var wire fakeserver.WireCounter
		f := startFake(b, fcmfake.Options{Wire: &wire})
		return f, sandboxApp(b, f, "app", "proj"), &wire
	}
	sample := func(f *fcmfake.Server, w *fakeserver.WireCounter) func() providertest.WireSample {
		return func() providertest.WireSample {
			return providertest.WireSample{Wire: w.Snapshot(), Requests: f.SendRequests()}
		}
	}
	b.Run("direct", func(b *testing.B) {
		f, app, wire := setup(b)
		c := directClient(b, f, app)
		url := f.Endpoint() + "/projects/" + app.ProjectID + "/messages:send"
		push := func(toks []string) int {
			body, _ := json.Marshal(map[string]any{"message": map[string]any{"token": toks[0],
				"notification": map[string]string{"title": n.Title, "body": n.Body}, "data": n.Data}})
			resp, err := c.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				return 0
			}
			defer resp.Body.Close()
			io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != http.StatusOK {
				return 0
			}
			return 1
		}
		providertest.MeasureWire(b, providertest.WireLoad{Tokens: tokens(0, 1000), Batch: 1, InFlight: wireInFlight,
			Push: push, Sample: sample(f, wire)})
	})
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprint("sender-", batch), func(b *testing.B) {
			f, app, wire := setup(b)
			s := newSender(b, f, fcm.Config{RatePerMinute: 1 << 30, BatchTimeout: time.Minute}, map[string]fcm.AppConfig{"app": app})
			var seq atomic.Int64
			push := func(toks []string) int {
				j := &events.Job{ID: fmt.Sprint("job-", seq.Add(1)), IntentID: "intent", App: "app", Platform: events.FCM,
					Tokens: toks, Notification: n, CreatedAt: time.Now()}
				delivered := 0
				for _, r := range s.Send(context.Background(), j) {
					if r.Kind == provider.Delivered {
						delivered++
					}
				}
				return delivered
			}
			providertest.MeasureWire(b, providertest.WireLoad{Tokens: tokens(0, 1000), Batch: batch, InFlight: wireInFlight,
				Push: push, Sample: sample(f, wire)})
		})
	}
}

// directClient is a bare HTTP v1 client: net/http's HTTP/2 transport and an
// OAuth transport minting access tokens with the app's service account.
func directClient(b *testing.B, f *fcmfake.Server, app fcm.AppConfig) *http.Client {
	var sa struct {
		Email    string `json:"client_email"`
		Key      string `json:"private_key"`
		KeyID    string `json:"private_key_id"`
		TokenURI string `json:"token_uri"`
	}
	if err := json.Unmarshal([]byte(app.CredentialsJSON), &sa); err != nil {
		b.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.CertPool()}, ForceAttemptHTTP2: true}
	b.Cleanup(tr.CloseIdleConnections)
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: tr})
	conf := &jwt.Config{Email: sa.Email, PrivateKey: []byte(sa.Key), PrivateKeyID: sa.KeyID, TokenURL: sa.TokenURI,
		Scopes: []string{"https://www.googleapis.com/auth/firebase.messaging"}}
	return &http.Client{Transport: &oauth2.Transport{Base: tr, Source: conf.TokenSource(ctx)}}
}
