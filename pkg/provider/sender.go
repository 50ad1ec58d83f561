package provider

import (
	"context"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Sender delivers one job to its provider. It returns exactly one Result per
// token of the job, in the job's order, once the provider answered for every
// token (or the attempt failed). Send must honour ctx: when ctx ends, tokens
// without an answer get a Retry result.
//
// A Sender is safe for concurrent use.
type Sender interface {
	Send(ctx context.Context, job *events.Job) []Result
}

// Closer is implemented by senders holding connections.
type Closer interface {
	Close() error
}
