package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

func provisionCommand() *command {
	return &command{
		name:    "provision",
		args:    "[--stream-replicas N] [--dedup-window D] [--feedback-retention D] [--dead-retention D] [--platforms LIST]",
		summary: "create or update the streams and the KV buckets (for services run with --provision=false)",
		setup: func(c *cli, fs *flag.FlagSet) func(context.Context, []string) error {
			var cfg streams.Config
			fs.IntVar(&cfg.Replicas, "stream-replicas", streams.DefaultReplicas, "replicas of every stream and the KV bucket (3 on a cluster)")
			fs.DurationVar(&cfg.DedupWindow, "dedup-window", streams.DefaultDedupWindow, "how long intent and job ids are remembered for deduplication")
			fs.DurationVar(&cfg.FeedbackMaxAge, "feedback-retention", streams.DefaultFeedbackMaxAge, "how long PUSH_FEEDBACK keeps feedback events")
			fs.DurationVar(&cfg.DeadMaxAge, "dead-retention", streams.DefaultDeadMaxAge, "how long PUSH_DEAD keeps dead letters")
			// Declared as parsed: their streams are provisioned too.
			var custom events.PlatformList
			fs.Var(&custom, "platforms", "custom platforms (channels) declared besides apns, fcm, mi, hms and webpush, comma-separated: each gets PUSH_SEND_<NAME> and PUSH_RETRY_<NAME> (docs/channels.md)")
			return func(ctx context.Context, _ []string) error {
				if err := cfg.Validate(); err != nil {
					return &usageError{err}
				}
				nc, js, err := c.connect(false)
				if err != nil {
					return err
				}
				defer nc.Close()
				if err := streams.Provision(ctx, js, cfg); err != nil {
					return err
				}
				type streamOut struct {
					Name     string   `json:"name"`
					Subjects []string `json:"subjects"`
					Replicas int      `json:"replicas"`
				}
				var out []streamOut
				for _, sc := range streams.StreamConfigs(cfg) {
					out = append(out, streamOut{sc.Name, sc.Subjects, sc.Replicas})
				}
				if c.json() {
					return c.printJSON(map[string]any{"streams": out})
				}
				for _, s := range out {
					fmt.Fprintf(c.stdout, "stream %-22s subjects %v, %d replica(s)\n", s.Name, s.Subjects, s.Replicas)
				}
				return nil
			}
		},
	}
}
