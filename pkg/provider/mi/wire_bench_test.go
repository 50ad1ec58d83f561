package mi_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
	"github.com/pushfleet/pushfleet/pkg/provider/mi"
	"github.com/pushfleet/pushfleet/pkg/provider/mi/mifake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

// BenchmarkWireMi compares what one MiPush /v3/message/regid request costs
// on the wire: a minimal direct client (net/http over HTTP/2, the form
// fields of the official SDKs' default Android message) against
// pushfleet's Sender, with one-token and 100-token jobs (one request
// each), on the same in-process fake counting the wire
// (fakeserver.WireCounter). cpu-µs/req includes the fake.
func BenchmarkWireMi(b *testing.B) {
	setup := func(b *testing.B) (*mifake.Server, mi.AppConfig, *fakeserver.WireCounter) {
		var wire fakeserver.WireCounter
		fake, err := mifake.Start(mifake.Options{Wire: &wire})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(fake.Close)
		return fake, fake.SandboxApp("com.example.demo"), &wire
	}
	sample := func(f *mifake.Server, w *fakeserver.WireCounter) func() providertest.WireSample {
		return func() providertest.WireSample {
			return providertest.WireSample{Wire: w.Snapshot(), Requests: f.Requests()}
		}
	}
	job := testJob()
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprint("direct-", batch), func(b *testing.B) {
			fake, app, wire := setup(b)
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: fake.CertPool()}, ForceAttemptHTTP2: true}
			b.Cleanup(tr.CloseIdleConnections)
			c := &http.Client{Transport: tr}
			push := func(toks []string) int {
				form := url.Values{
					"restricted_package_name": {app.PackageName}, "title": {job.Notification.Title},
					"description": {job.Notification.Body}, "pass_through": {"0"}, "notify_type": {"-1"},
					"payload": {`{"k":"v"}`}, "registration_id": {strings.Join(toks, ",")},
				}
				req, _ := http.NewRequest(http.MethodPost, fake.URL()+mi.PathRegID, strings.NewReader(form.Encode()))
				req.Header.Set("Authorization", "key="+app.AppSecret)
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
				resp, err := c.Do(req)
				if err != nil {
					return 0
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"code":0`) {
					return 0
				}
				return len(toks)
			}
			providertest.MeasureWire(b, providertest.WireLoad{Tokens: regids(0, 1000), Batch: batch, InFlight: 64 * batch,
				Push: push, Sample: sample(fake, wire)})
		})
		b.Run(fmt.Sprint("sender-", batch), func(b *testing.B) {
			fake, app, wire := setup(b)
			cfg := fake.SenderConfig()
			s, err := mi.New(cfg, map[string]mi.AppConfig{testApp: app})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			push := func(toks []string) int {
				j := testJob(toks...)
				delivered := 0
				for _, r := range s.Send(context.Background(), j) {
					if r.Kind == provider.Delivered {
						delivered++
					}
				}
				return delivered
			}
			providertest.MeasureWire(b, providertest.WireLoad{Tokens: regids(0, 1000), Batch: batch, InFlight: 64 * batch,
				Push: push, Sample: sample(fake, wire)})
		})
	}
}
