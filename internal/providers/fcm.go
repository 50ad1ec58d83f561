package providers

import (
	"flag"
	"fmt"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
)

// FCMFlags are gcm-sender's provider flags.
type FCMFlags struct {
	cfg    fcm.Config
	caFile caFile
}

// Register adds the flags to fs.
func (f *FCMFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.cfg.Endpoint, "fcm-endpoint", fcm.DefaultEndpoint, "FCM HTTP v1 base URL")
	fs.StringVar((*string)(&f.caFile), "fcm-ca-file", "", "extra CA certificates (PEM) to trust for FCM and its OAuth endpoint, e.g. a local fake's")
	fs.IntVar(&f.cfg.MaxConcurrentBatches, "fcm-concurrent-batches", fcm.DefaultMaxConcurrentBatches,
		fmt.Sprintf("batches of up to %d messages in flight (each runs up to 50 requests at a time)", fcm.MaxBatch))
	fs.IntVar(&f.cfg.RatePerMinute, "fcm-rate", fcm.DefaultRatePerMinute, "messages per minute per FCM project before the sender waits")
	fs.DurationVar(&f.cfg.BatchTimeout, "fcm-batch-timeout", fcm.DefaultBatchTimeout, fmt.Sprintf("bound on one batch of up to %d messages", fcm.MaxBatch))
}

// Service builds the fcm sender service from the apps file named in sc.
func (f *FCMFlags) Service(env *fleet.Env, sc config.SenderOptions) (fleet.Service, error) {
	cfg := f.cfg
	if err := f.caFile.finish(env, "fcm", &cfg.RootCAs, &cfg.Logger, &cfg.Metrics, cfg.Validate); err != nil {
		return nil, err
	}
	return Service(env, events.FCM, sc, func(a map[string]fcm.AppConfig) (*fcm.Sender, error) {
		return fcm.New(cfg, a)
	})
}
