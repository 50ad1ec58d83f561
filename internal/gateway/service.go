package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/health"
	"github.com/pushfleet/pushfleet/internal/metrics"
)

// ProcessEnv is what the gateway takes from its process (a fleet.Env's
// fields: JS, NC, Metrics, Health, Logger, DrainTimeout). The gateway's
// Run(ctx) error makes it a fleet.Service.
type ProcessEnv struct {
	JS           jetstream.Publisher
	NC           *nats.Conn
	Metrics      *metrics.Fleet
	Health       *health.Server
	Logger       *slog.Logger
	DrainTimeout time.Duration
}

// NewService builds the gateway of a process and opens its listener (so a
// taken port fails the start). It adds two readiness checks to the
// process's /readyz: "gateway" (the API listener serves) and
// "gateway-nats" (the NATS connection is up), so that a gateway cut off
// from NATS leaves the load balancer's rotation instead of answering 503s.
func NewService(cfg Config, e ProcessEnv) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if e.JS == nil {
		return nil, errors.New("gateway: no JetStream")
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = e.DrainTimeout
	}
	g, err := New(cfg, Deps{JS: e.JS, Fleet: e.Metrics, Logger: e.Logger})
	if err != nil {
		return nil, err
	}
	if err := g.Listen(); err != nil {
		return nil, err
	}
	if e.Health != nil {
		e.Health.AddCheck("gateway", g.Ready)
		if nc := e.NC; nc != nil {
			e.Health.AddCheck("gateway-nats", func() error {
				if s := nc.Status(); s != nats.CONNECTED {
					return fmt.Errorf("nats %s", s)
				}
				return nil
			})
		}
	}
	return g, nil
}
