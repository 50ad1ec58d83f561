package apns_test

import (
	"testing"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
	"github.com/pushfleet/pushfleet/pkg/provider/apns/apnsfake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

// TestConformance runs the shared provider suite against the fake over real
// TLS and HTTP/2.
func TestConformance(t *testing.T) {
	providertest.Run(t, func(t *testing.T) *providertest.Harness {
		f := newFixture(t, apnsfake.Options{}, nil)
		cfg := f.cfg
		cfg.ConnsPerPool, cfg.MaxStreamsPerConn = 1, 1
		serial, err := apns.New(cfg, map[string]apns.AppConfig{testApp: f.app})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { serial.Close() })
		return &providertest.Harness{
			Platform: events.APNs,
			App:      testApp,
			Sender:   f.sender,
			Serial:   serial,
			Fake:     f.fake,
			Token:    token,
			Features: providertest.Features{MaxBatch: 100, RetryAfter: true, MaxPayload: apns.MaxPayload},
		}
	})
}
