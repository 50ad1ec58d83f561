package providers

import (
	"flag"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/webpush"
)

// WebPushFlags are webpush-sender's provider flags.
type WebPushFlags struct {
	cfg    webpush.Config
	caFile caFile
}

// Register adds the flags to fs.
func (f *WebPushFlags) Register(fs *flag.FlagSet) {
	fs.StringVar((*string)(&f.caFile), "webpush-ca-file", "", "extra CA certificates (PEM) to trust for push services, e.g. a local fake's")
	fs.IntVar(&f.cfg.MaxInFlight, "webpush-in-flight", webpush.DefaultMaxInFlight, "Web Push requests in flight over all push services (one per subscription)")
	fs.IntVar(&f.cfg.MaxConnsPerHost, "webpush-conns", 0, "connections per push service host (0: no bound; HTTP/2 multiplexes)")
	fs.DurationVar(&f.cfg.RequestTimeout, "webpush-request-timeout", webpush.DefaultRequestTimeout, "bound on one Web Push request")
	fs.DurationVar(&f.cfg.MaxTTL, "webpush-max-ttl", webpush.DefaultMaxTTL, "longest TTL header sent")
	fs.IntVar(&f.cfg.RecordSize, "webpush-record-size", webpush.DefaultRecordSize, "aes128gcm record size every body is padded to (128-4096; 3070 for Mozilla's mobile limit)")
}

// Service builds the webpush sender service from the apps file named in sc.
func (f *WebPushFlags) Service(env *fleet.Env, sc config.SenderOptions) (fleet.Service, error) {
	cfg := f.cfg
	if err := f.caFile.finish(env, "webpush", &cfg.RootCAs, &cfg.Logger, &cfg.Metrics, cfg.Validate); err != nil {
		return nil, err
	}
	return Service(env, events.WebPush, sc, func(a map[string]webpush.AppConfig) (*webpush.Sender, error) {
		return webpush.New(cfg, a)
	})
}
