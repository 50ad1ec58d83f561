package fleet

import (
	"context"
	"errors"

	natsmicro "github.com/nats-io/nats.go/micro"

	"github.com/pushfleet/pushfleet/internal/tokens"
)

var errCacheLoading = errors.New("token cache loading")

// cached runs a token cache beside a service that must not start before
// the cache holds its first snapshot.
type cached struct {
	cache *tokens.Cache
	svc   Service
}

func withCache(e *Env, c *tokens.Cache, svc Service) Service {
	if e.Health != nil {
		e.Health.AddCheck("token-cache", func() error {
			if !c.Ready() {
				return errCacheLoading
			}
			return nil
		})
	}
	return cached{cache: c, svc: svc}
}

func (c cached) Run(ctx context.Context) error {
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.cache.Run(cctx) }()
	var err error
	if err = c.cache.WaitReady(ctx); err == nil {
		err = c.svc.Run(ctx)
	} else if ctx.Err() != nil {
		err = nil // stopped while loading
	}
	stop()
	return errors.Join(err, <-done)
}

// microService stops a NATS micro service when ctx ends.
type microService struct{ svc natsmicro.Service }

func micro(s natsmicro.Service) Service { return microService{s} }

func (m microService) Run(ctx context.Context) error {
	<-ctx.Done()
	return m.svc.Stop()
}
