package main

import (
	"context"
	"fmt"

	"github.com/pushfleet/pushfleet/internal/streams"
)

// provision creates or updates every stream and the KV bucket, for
// deployments whose services run with least privilege (--provision=false):
// an admin runs this once per change of the stream settings.
func (c *cli) provision(ctx context.Context, args []string) error {
	fs, common := c.flags("provision")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if err := common.Streams.Validate(); err != nil {
		return err
	}
	nc, js, err := c.connect(common)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := streams.Provision(ctx, js, common.Streams); err != nil {
		return err
	}
	for _, sc := range streams.StreamConfigs(common.Streams) {
		fmt.Fprintf(c.stdout, "stream %-22s subjects %v, %d replica(s)\n", sc.Name, sc.Subjects, sc.Replicas)
	}
	return nil
}
