package providers

import (
	"flag"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/hms"
)

// HMSFlags are hms-sender's provider flags.
type HMSFlags struct {
	cfg    hms.Config
	caFile caFile
}

// Register adds the flags to fs.
func (f *HMSFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.cfg.PushURL, "hms-url", "", "Push Kit base URL (a fake or a proxy); empty: "+hms.DefaultPushURL)
	fs.StringVar(&f.cfg.TokenURL, "hms-token-url", "", "Huawei OAuth 2.0 token endpoint; empty: "+hms.DefaultTokenURL)
	fs.StringVar((*string)(&f.caFile), "hms-ca-file", "", "extra CA certificates (PEM) to trust for Push Kit and its token endpoint, e.g. a local fake's")
	fs.IntVar(&f.cfg.BatchSize, "hms-batch", hms.MaxBatch, "most tokens per Push Kit request (at most 1000)")
	fs.IntVar(&f.cfg.MaxInFlight, "hms-max-in-flight", hms.DefaultMaxInFlight, "Push Kit requests in flight over all apps")
	fs.IntVar(&f.cfg.MaxConnsPerHost, "hms-conns", hms.DefaultMaxConnsPerHost, "connections per Push Kit host")
	fs.DurationVar(&f.cfg.RequestTimeout, "hms-request-timeout", hms.DefaultRequestTimeout, "bound on one Push Kit request")
	fs.DurationVar(&f.cfg.RefreshBefore, "hms-refresh-before", hms.DefaultRefreshBefore, "renew an OAuth access token this long before it expires")
	fs.DurationVar(&f.cfg.MaxTTL, "hms-max-ttl", hms.DefaultMaxTTL, "longest android.ttl sent to Push Kit")
}

// Service builds the hms sender service from the apps file named in sc.
func (f *HMSFlags) Service(env *fleet.Env, sc config.SenderOptions) (fleet.Service, error) {
	cfg := f.cfg
	if err := f.caFile.finish(env, "hms", &cfg.RootCAs, &cfg.Logger, &cfg.Metrics, cfg.Validate); err != nil {
		return nil, err
	}
	return Service(env, events.HMS, sc, func(a map[string]hms.AppConfig) (*hms.Sender, error) {
		return hms.New(cfg, a)
	})
}
