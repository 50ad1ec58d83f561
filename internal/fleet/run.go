package fleet

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// Group runs services together: it returns when all have stopped, and stops
// all when one fails.
type Group []Service

// Run runs every service until ctx ends or one fails.
func (g Group) Run(ctx context.Context) error {
	eg, ctx := errgroup.WithContext(ctx)
	for _, s := range g {
		eg.Go(func() error { return s.Run(ctx) })
	}
	return eg.Wait()
}
