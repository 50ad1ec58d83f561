package hms_test

import (
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider/hms"
	"github.com/pushfleet/pushfleet/pkg/provider/hms/hmsfake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

// TestConformance runs the shared provider suite against hmsfake over TLS,
// HTTP/2 and HTTP/1.1, with the full OAuth flow.
func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts hmsfake.Options
	}{
		{"HTTP2", hmsfake.Options{}},
		{"HTTP1", hmsfake.Options{HTTP1Only: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			providertest.Run(t, func(t *testing.T) *providertest.Harness {
				f := startFake(t, tc.opts)
				app := f.SandboxApp()
				apps := map[string]hms.AppConfig{"conf": app}
				s := newSender(t, f, func(c *hms.Config) { c.RequestTimeout = 10 * time.Second }, apps)
				serial := newSender(t, f, func(c *hms.Config) { c.MaxInFlight = 1 }, apps)
				return &providertest.Harness{
					Platform: hms.Platform, App: "conf", Sender: s, Serial: serial, Fake: f, Token: token,
					Features: providertest.Features{
						MaxBatch: hms.MaxBatch,
						// 429 carries Retry-After; 503 flow control may not,
						// and then the sender's backoff fills it in.
						RetryAfter: true,
						MaxPayload: hms.DefaultMaxMessageBytes,
					},
				}
			})
		})
	}
}
