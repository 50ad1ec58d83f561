package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// tailBatch is how many events tail asks the server for at once: one
// round trip per batch, not per event.
const tailBatch = 4096

func tailCommand() *command {
	return &command{
		name: "tail",
		args: "[-f] [--dead] [--app A] [--platform P] [--outcome O] [--since D] [-n N] [--full-tokens]",
		summary: "show feedback events (or --dead: dead letters): with --since, those since then, then exit (-f: keep following); " +
			"without --since, follow new ones",
		setup: func(c *cli, fs *flag.FlagSet) func(context.Context, []string) error {
			var t tailer
			fs.BoolVar(&t.follow, "f", false, "keep following new events after the existing ones (survives reconnects; stop with Ctrl-C)")
			fs.BoolVar(&t.follow, "follow", false, "same as -f")
			fs.BoolVar(&t.dead, "dead", false, "dead letters instead of feedback")
			fs.StringVar(&t.app, "app", "", "only this app")
			fs.StringVar(&t.platform, "platform", "", "only this platform (feedback) or stage (dead letters)")
			fs.StringVar(&t.outcome, "outcome", "", "only this outcome: delivered, invalid_token, token_replaced, failed, expired, dead, suppressed, cancelled")
			fs.DurationVar(&t.since, "since", 0, "start this far back, show what exists and exit unless -f (0: only new events, followed)")
			fs.IntVar(&t.limit, "n", 0, "stop after this many events (0: no limit)")
			fs.BoolVar(&t.full, "full-tokens", false, "print tokens in full (default: a fingerprint)")
			return func(ctx context.Context, _ []string) error {
				if err := t.check(); err != nil {
					return err
				}
				// Without --since there is nothing existing to show: follow.
				follow := t.follow || t.since == 0
				nc, js, err := c.connect(follow)
				if err != nil {
					return err
				}
				defer nc.Close()
				_, err = t.run(ctx, c, js, follow)
				return err
			}
		},
	}
}

// tailer is one tail: what to show and how.
type tailer struct {
	follow, dead, full     bool
	app, platform, outcome string
	since                  time.Duration
	limit                  int
}

func (t *tailer) check() error {
	if err := checkApp("tail", t.app); err != nil {
		return err
	}
	if t.since < 0 || t.limit < 0 {
		return usagef("tail: --since and -n must not be negative")
	}
	if t.platform != "" {
		valid := slices.Contains(deadStages(), t.platform)
		if !t.dead {
			_, err := events.ParsePlatform(t.platform)
			valid = err == nil
		}
		if !valid {
			return usagef("tail: unknown platform or stage %q", t.platform)
		}
	}
	if t.outcome != "" && t.dead {
		return usagef("tail: --outcome applies to feedback, not --dead")
	}
	return nil
}

// run shows events until the limit, the end of the existing ones (unless
// follow) or ctx's end, and returns how many it showed. An ordered
// consumer reads them in large batches and recreates itself after a
// reconnect; should it give up (a long outage), follow starts a new one
// after the last event shown, until ctx ends.
func (t *tailer) run(ctx context.Context, c *cli, js jetstream.JetStream, follow bool) (int, error) {
	stream, root := events.StreamFeedback, events.FeedbackRoot
	if t.dead {
		stream, root = events.StreamDead, events.DeadRoot
	}
	subject := root + ".>"
	if t.platform != "" || t.app != "" {
		subject = root + "." + orWildcard(t.platform) + "." + orWildcard(t.app)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverNewPolicy}
	if t.since > 0 {
		start := time.Now().Add(-t.since)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	w := bufio.NewWriterSize(c.stdout, 64<<10)
	defer w.Flush()
	n := 0
	for {
		last, err := t.read(ctx, c, js, stream, cfg, follow, w, &n)
		if err == nil || ctx.Err() != nil {
			return n, w.Flush()
		}
		if !follow {
			return n, err
		}
		if ferr := w.Flush(); ferr != nil { // stdout is gone
			return n, ferr
		}
		fmt.Fprintf(c.stderr, "pushctl tail: %v; resuming\n", err)
		if last > 0 {
			cfg.DeliverPolicy, cfg.OptStartTime, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, nil, last+1
		}
		select {
		case <-ctx.Done():
			return n, nil
		case <-time.After(time.Second):
		}
	}
}

// read runs one ordered consumer; it returns the stream sequence of the
// last event read, and nil when done (limit, caught up without follow, or
// ctx's end).
func (t *tailer) read(ctx context.Context, c *cli, js jetstream.JetStream, stream string, cfg jetstream.OrderedConsumerConfig,
	follow bool, w *bufio.Writer, n *int) (last uint64, err error) {
	if cfg.DeliverPolicy == jetstream.DeliverByStartSequencePolicy {
		last = cfg.OptStartSeq - 1
	}
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return last, fmt.Errorf("tail %s: %w", stream, err)
	}
	if !follow {
		info, err := cons.Info(ctx)
		if err != nil {
			return last, fmt.Errorf("tail %s: %w", stream, err)
		}
		if info.NumPending == 0 {
			return last, nil
		}
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(tailBatch))
	if err != nil {
		return last, fmt.Errorf("tail %s: %w", stream, err)
	}
	defer it.Stop()
	next := []jetstream.NextOpt{jetstream.NextContext(ctx)}
	if !follow {
		// Events may leave the stream (retention) after the count above:
		// when none comes for a while, ask whether any is left.
		next = []jetstream.NextOpt{jetstream.NextMaxWait(5 * time.Second)}
		defer context.AfterFunc(ctx, it.Stop)()
	}
	for t.limit == 0 || *n < t.limit {
		msg, err := it.Next(next...)
		if !follow && errors.Is(err, nats.ErrTimeout) {
			if info, ierr := cons.Info(ctx); ierr == nil && info.NumPending == 0 {
				return last, nil
			}
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return last, nil
			}
			return last, fmt.Errorf("tail %s: %w", stream, err)
		}
		if t.show(c, w, msg.Data()) {
			*n++
		}
		meta, err := msg.Metadata()
		if err != nil {
			continue
		}
		last = meta.Sequence.Stream
		if meta.NumPending == 0 {
			// Caught up: what was there has been shown.
			if err := w.Flush(); err != nil {
				return last, err
			}
			if !follow {
				return last, nil
			}
		}
	}
	return last, nil
}

// show writes one event; false when it is filtered out or unreadable.
func (t *tailer) show(c *cli, w *bufio.Writer, data []byte) bool {
	if t.dead {
		var d events.DeadLetter
		if json.Unmarshal(data, &d) != nil {
			return false
		}
		if c.json() {
			w.Write(data)
			w.WriteByte('\n')
			return true
		}
		fmt.Fprintf(w, "%s dead stage=%s app=%s intent=%s attempts=%d tokens=%d%s reason=%q\n",
			d.At.Format(time.RFC3339), d.Stage, d.App, d.IntentID, d.Attempts, len(d.Tokens)+d.TokensOmitted, truncatedNote(d), d.Reason)
		return true
	}
	var f events.Feedback
	if json.Unmarshal(data, &f) != nil || (t.outcome != "" && string(f.Outcome) != t.outcome) {
		return false
	}
	if !t.full {
		f.Token = tokens.Short(f.Token)
		if f.NewToken != "" {
			f.NewToken = tokens.Short(f.NewToken)
		}
	}
	if c.json() {
		b, err := json.Marshal(f)
		if err != nil {
			return false
		}
		w.Write(b)
		w.WriteByte('\n')
		return true
	}
	fmt.Fprintf(w, "%s %s app=%s platform=%s token=%s intent=%s reason=%q\n",
		f.At.Format(time.RFC3339), f.Outcome, f.App, f.Platform, f.Token, f.IntentID, f.Reason)
	return true
}

func orWildcard(s string) string {
	if s == "" {
		return "*"
	}
	return s
}
