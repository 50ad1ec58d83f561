package webpush_test

import (
	"sync"
	"testing"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
	"github.com/pushfleet/pushfleet/pkg/provider/webpush"
	"github.com/pushfleet/pushfleet/pkg/provider/webpush/webpushfake"
)

// TestConformance runs the shared provider suite against the fake over real
// TLS and HTTP/2, every payload decrypted and every VAPID JWT checked.
func TestConformance(t *testing.T) {
	providertest.Run(t, func(t *testing.T) *providertest.Harness {
		f := newFixture(t, webpushfake.Options{}, webpush.Config{})
		cfg := f.cfg
		cfg.MaxInFlight = 1
		serial := f.newSender(t, cfg)
		var mu sync.Mutex // the suite's backlog check asks for tokens from many goroutines
		return &providertest.Harness{
			Platform: events.Platform(webpush.Platform),
			App:      testApp,
			Sender:   f.sender,
			Serial:   serial,
			Fake:     f.fake,
			Token: func(i int) string {
				mu.Lock()
				defer mu.Unlock()
				return f.token(t, i)
			},
			Features: providertest.Features{MaxBatch: 100, RetryAfter: true, MaxPayload: webpush.MaxPayload(webpush.DefaultRecordSize)},
		}
	})
}
