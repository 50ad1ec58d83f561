package mi_test

import (
	"testing"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/mi"
	"github.com/pushfleet/pushfleet/pkg/provider/mi/mifake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts mifake.Options
	}{
		{"HTTP2", mifake.Options{}},
		{"HTTP1", mifake.Options{HTTP1Only: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			providertest.Run(t, func(t *testing.T) *providertest.Harness {
				s, fake := setup(t, tc.opts, nil)
				cfg := fake.SenderConfig()
				cfg.MaxInFlightPerHost = 1
				serial, err := mi.New(cfg, map[string]mi.AppConfig{testApp: fake.SandboxApp("com.example.demo")})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = serial.Close() })
				return &providertest.Harness{
					Platform: events.Mi, App: testApp, Sender: s, Serial: serial, Fake: fake, Token: regid,
					Features: providertest.Features{
						MaxBatch: mi.DefaultBatchSize,
						// MiPush's frequency errors (10022–10028) carry no wait time.
						RetryAfter: false,
						// Xiaomi publishes no limit; the Sender enforces
						// Config.MaxContentBytes (default 4096) locally.
						MaxPayload: mi.DefaultMaxContentBytes,
					},
				}
			})
		})
	}
}
