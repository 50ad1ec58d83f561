package providers

import (
	"flag"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
)

// APNsFlags are apns-sender's provider flags.
type APNsFlags struct {
	cfg    apns.Config
	caFile caFile
}

// Register adds the flags to fs.
func (f *APNsFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.cfg.ProductionURL, "apns-production-url", apns.DefaultProductionURL, "APNs production base URL")
	fs.StringVar(&f.cfg.SandboxURL, "apns-sandbox-url", apns.DefaultSandboxURL, "APNs sandbox (development) base URL")
	fs.StringVar((*string)(&f.caFile), "apns-ca-file", "", "extra CA certificates (PEM) to trust for APNs, e.g. a local fake's")
	fs.IntVar(&f.cfg.ConnsPerPool, "apns-conns", apns.DefaultConnsPerPool, "HTTP/2 connections per (credentials, environment)")
	fs.IntVar(&f.cfg.MaxStreamsPerConn, "apns-streams-per-conn", apns.DefaultMaxStreamsPerConn, "requests in flight per connection")
	fs.DurationVar(&f.cfg.RequestTimeout, "apns-request-timeout", apns.DefaultRequestTimeout, "bound on one APNs request")
}

// Service builds the apns sender service from the apps file named in sc.
func (f *APNsFlags) Service(env *fleet.Env, sc config.SenderOptions) (fleet.Service, error) {
	cfg := f.cfg
	if err := f.caFile.finish(env, "apns", &cfg.RootCAs, &cfg.Logger, &cfg.Metrics, cfg.Validate); err != nil {
		return nil, err
	}
	return Service(env, events.APNs, sc, func(a map[string]apns.AppConfig) (*apns.Sender, error) {
		return apns.New(cfg, a)
	})
}
