package fcm_test

import (
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm/fcmfake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

// TestConformance runs the shared provider suite against fcmfake over TLS
// and HTTP/2, with the full OAuth flow.
func TestConformance(t *testing.T) {
	t.Parallel()
	providertest.Run(t, func(t *testing.T) *providertest.Harness {
		f := startFake(t, fcmfake.Options{})
		// A short BatchTimeout ends the SDK's own retries of a dropped
		// stream (0 s, 1 s, 2 s, 4 s) after the first two.
		app := sandboxApp(t, f, "conf", "conf-project")
		s := newSender(t, f, fcm.Config{BatchTimeout: time.Second}, map[string]fcm.AppConfig{"conf": app})
		// One batch at a time: with one-token jobs, one request at a time.
		serial := newSender(t, f, fcm.Config{BatchTimeout: 10 * time.Second, MaxConcurrentBatches: 1}, map[string]fcm.AppConfig{"conf": app})
		return &providertest.Harness{
			Platform: events.FCM,
			App:      "conf",
			Sender:   s,
			Serial:   serial,
			Fake:     f,
			Token:    token,
			Features: providertest.Features{MaxBatch: fcm.MaxBatch, RetryAfter: true, MaxPayload: fcm.DefaultMaxPayloadBytes},
		}
	})
}
