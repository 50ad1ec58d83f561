package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
)

func (c *cli) tail(ctx context.Context, args []string) error {
	fs, common := c.flags("tail")
	dead := fs.Bool("dead", false, "follow dead letters instead of feedback")
	app := fs.String("app", "", "only this app")
	platform := fs.String("platform", "", "only this platform (feedback) or stage (dead letters)")
	outcome := fs.String("outcome", "", "only this outcome: delivered, invalid_token, token_replaced, failed, expired, dead, suppressed")
	since := fs.Duration("since", 0, "start this far back (0: only new events)")
	limit := fs.Int("n", 0, "stop after this many events (0: follow until interrupted)")
	full := fs.Bool("full-tokens", false, "print tokens in full (default: a fingerprint)")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	nc, js, err := c.connect(common)
	if err != nil {
		return err
	}
	defer nc.Close()
	stream, root := events.StreamFeedback, events.FeedbackRoot
	if *dead {
		stream, root = events.StreamDead, events.DeadRoot
	}
	subject := root + ".>"
	if *platform != "" || *app != "" {
		subject = root + "." + orWildcard(*platform) + "." + orWildcard(*app)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverNewPolicy}
	if *since > 0 {
		start := time.Now().Add(-*since)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return fmt.Errorf("tail %s: %w", stream, err)
	}
	for n := 0; *limit == 0 || n < *limit; {
		msg, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if *dead {
			var d events.DeadLetter
			if json.Unmarshal(msg.Data(), &d) != nil {
				continue
			}
			fmt.Fprintf(c.stdout, "%s dead stage=%s app=%s intent=%s attempts=%d tokens=%d%s reason=%q\n",
				d.At.Format(time.RFC3339), d.Stage, d.App, d.IntentID, d.Attempts, len(d.Tokens)+d.TokensOmitted, truncatedNote(d), d.Reason)
			n++
			continue
		}
		var f events.Feedback
		if json.Unmarshal(msg.Data(), &f) != nil || (*outcome != "" && string(f.Outcome) != *outcome) {
			continue
		}
		tok := tokens.Short(f.Token)
		if *full {
			tok = f.Token
		}
		fmt.Fprintf(c.stdout, "%s %s app=%s platform=%s token=%s intent=%s reason=%q\n",
			f.At.Format(time.RFC3339), f.Outcome, f.App, f.Platform, tok, f.IntentID, f.Reason)
		n++
	}
	return nil
}

func orWildcard(s string) string {
	if s == "" {
		return "*"
	}
	return s
}
