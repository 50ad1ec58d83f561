package fcm_test

import (
	"testing"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm/fcmfake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

// TestConformance runs the shared provider suite against fcmfake over TLS
// and HTTP/2, with the full OAuth flow.
func TestConformance(t *testing.T) {
	providertest.Run(t, func(t *testing.T) *providertest.Harness {
		f := startFake(t, fcmfake.Options{})
		s := newSender(t, f, fcm.Config{}, map[string]fcm.AppConfig{"conf": sandboxApp(t, f, "conf", "conf-project")})
		return &providertest.Harness{
			Platform: events.FCM,
			App:      "conf",
			Sender:   s,
			Fake:     f,
			Token:    token,
			Features: providertest.Features{MaxBatch: fcm.MaxBatch, RetryAfter: true, MaxPayload: fcm.DefaultMaxPayloadBytes},
		}
	})
}
