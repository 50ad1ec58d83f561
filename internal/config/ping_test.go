package config

import (
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// A service notices a frozen server within about 20s by its own pings,
// not after nats.go's default 2 minutes × 2.
func TestServicesPingTheirServer(t *testing.T) {
	var c Common
	opts, err := c.NATSOptions("dispatcher", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	o := nats.GetDefaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			t.Fatal(err)
		}
	}
	if d := o.PingInterval * time.Duration(o.MaxPingsOut); d > 30*time.Second || d <= 0 {
		t.Fatalf("ping %v × %d outstanding: a frozen server goes unnoticed for %v", o.PingInterval, o.MaxPingsOut, d)
	}
}
