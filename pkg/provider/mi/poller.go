package mi

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"time"
)

// DefaultPollInterval is how often a Poller drains the invalid-regid feed.
const DefaultPollInterval = 5 * time.Minute

// PollerConfig configures a Poller. Zero values take the defaults.
type PollerConfig struct {
	// Interval between polls of every app (default 5m).
	Interval time.Duration
	// Logger receives poll failures; nil discards them.
	Logger *slog.Logger
}

// Validate reports the first invalid field.
func (c PollerConfig) Validate() error {
	if c.Interval < 0 {
		return errors.New("mi poller: interval must not be negative")
	}
	return nil
}

// Poller periodically drains /v1/feedback/fetch_invalid_regids for every
// app of a Sender, so mi-sender can publish invalid_token feedback for
// regids MiPush found dead outside of a send. (Xiaomi calls the feed
// deprecated in favour of receipt callbacks, but still serves it.)
type Poller struct {
	s   *Sender
	cfg PollerConfig
}

// NewPoller returns a Poller over s's apps (read at every poll, so
// UpdateApps is followed).
func NewPoller(s *Sender, cfg PollerConfig) (*Poller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Interval = cmp.Or(cfg.Interval, DefaultPollInterval)
	cfg.Logger = cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	return &Poller{s: s, cfg: cfg}, nil
}

// Run polls every app at once and then every Interval until ctx ends, and
// calls emit (from Run's goroutine) for each non-empty batch of invalid
// regids, also when a later page of the same poll failed: the server does
// not hand a regid out twice. A failed poll waits for the next interval.
// Run returns nil when ctx ends.
func (p *Poller) Run(ctx context.Context, emit func(app string, regids []string)) error {
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		p.pollAll(ctx, emit)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (p *Poller) pollAll(ctx context.Context, emit func(app string, regids []string)) {
	for _, app := range p.s.Apps() {
		if ctx.Err() != nil {
			return
		}
		regids, err := p.s.PollInvalid(ctx, app)
		if len(regids) > 0 {
			emit(app, regids)
		}
		switch {
		case err == nil, ctx.Err() != nil:
		case errors.Is(err, ErrNoFeedbackHost):
			p.cfg.Logger.Debug("mi invalid-regid poll skipped", "app", app, "err", err)
		default:
			p.cfg.Logger.Warn("mi invalid-regid poll failed", "app", app, "fetched", len(regids), "err", err)
		}
	}
}
