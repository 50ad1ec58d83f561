package providers

import (
	"flag"
	"time"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/mi"
)

// MiFlags are mi-sender's provider flags.
type MiFlags struct {
	cfg    mi.Config
	caFile caFile
	// Poll is how often each app's invalid regids are fetched (0: never).
	Poll time.Duration
}

// Register adds the flags to fs.
func (f *MiFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.cfg.BaseURL, "mi-url", "", "one MiPush base URL for every region and the feedback API (a fake or a proxy); empty: Xiaomi's regional hosts")
	fs.StringVar((*string)(&f.caFile), "mi-ca-file", "", "extra CA certificates (PEM) to trust for MiPush, e.g. a local fake's")
	fs.IntVar(&f.cfg.BatchSize, "mi-batch", mi.DefaultBatchSize, "most regids per MiPush request")
	fs.IntVar(&f.cfg.MaxConnsPerHost, "mi-conns", mi.DefaultMaxConnsPerHost, "connections per MiPush host")
	fs.DurationVar(&f.cfg.ConnMaxAge, "mi-conn-max-age", mi.DefaultConnMaxAge, "recycle MiPush connections after this long")
	fs.DurationVar(&f.cfg.RequestTimeout, "mi-request-timeout", mi.DefaultRequestTimeout, "bound on one MiPush request")
	fs.DurationVar(&f.Poll, "mi-feedback-poll", mi.DefaultPollInterval, "how often each app's invalid regids are fetched from MiPush (0: never)")
}

// Service builds the mi sender service from the apps file named in sc and,
// when Poll is positive, the poller of MiPush's invalid regids.
func (f *MiFlags) Service(env *fleet.Env, sc config.SenderOptions) (fleet.Service, error) {
	cfg := f.cfg
	if err := f.caFile.finish(env, "mi", &cfg.RootCAs, &cfg.Logger, &cfg.Metrics, cfg.Validate); err != nil {
		return nil, err
	}
	var ms *mi.Sender
	svc, err := Service(env, events.Mi, sc, func(a map[string]mi.AppConfig) (*mi.Sender, error) {
		s, err := mi.New(cfg, a)
		ms = s
		return s, err
	})
	if err != nil || f.Poll <= 0 {
		return svc, err
	}
	poll, err := MiInvalidPoll(env, ms, f.Poll)
	if err != nil {
		return nil, err
	}
	return fleet.Group{svc, poll}, nil
}
