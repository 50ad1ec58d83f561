package dispatch

import (
	"context"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Audience resolves alias, tag and all targets (with their platform filter)
// through the token registry. It
// streams the audience in batches so that a tag with a million devices is
// never held in memory at once; fn's error stops the walk.
type Audience interface {
	Resolve(ctx context.Context, app string, t events.Targets, batch int, fn func([]events.Target) error) error
}

// Suppressor knows which tokens are invalid. It must be cheap: it is asked
// once per token.
type Suppressor interface {
	Suppressed(app string, p events.Platform, token string) bool
}
