// Package puback waits for the acknowledgements of asynchronous JetStream
// publishes (jetstream.Publisher.PublishMsgAsync): the feedback events a
// sender stores and the delivery jobs the dispatcher publishes for an
// intent are each published in a burst, then waited for together.
package puback

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
)

// WaitAll waits for every future's acknowledgement and returns the first
// error among them, or ctx's error if ctx ends first.
func WaitAll(ctx context.Context, futures []jetstream.PubAckFuture) error {
	var first error
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			if first == nil {
				first = err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return first
}
