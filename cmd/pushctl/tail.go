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

// tailBatch is how many messages tail asks the server for at once: one
// round trip per batch, not per message.
const tailBatch = 4096

func tailCommand() *command {
	return &command{
		name: "tail",
		args: "[-f] [--dead] [--app A] [--platform P] [--outcome O] [--since D] [-n N] [--full-tokens]",
		summary: "show feedback events (or --dead: dead letters): with --since, those since then; with -n alone, the last N stored; " +
			"then exit (-f: keep following). With neither, follow new ones",
		setup: func(c *cli, fs *flag.FlagSet) func(context.Context, []string) error {
			var t tailer
			fs.BoolVar(&t.follow, "f", false, "keep following new events after the existing ones (survives reconnects; stop with Ctrl-C)")
			fs.BoolVar(&t.follow, "follow", false, "same as -f")
			fs.BoolVar(&t.dead, "dead", false, "dead letters instead of feedback")
			fs.StringVar(&t.app, "app", "", "only this app")
			fs.StringVar(&t.platform, "platform", "", "only this platform (feedback) or stage (dead letters)")
			fs.StringVar(&t.outcome, "outcome", "", "only this outcome: delivered, invalid_token, token_replaced, failed, expired, dead, suppressed, cancelled, confirmed, unconfirmed")
			fs.DurationVar(&t.since, "since", 0, "start this far back, show what exists and exit unless -f "+
				"(0: see -n; with neither, only new events, followed)")
			fs.IntVar(&t.limit, "n", 0, "without --since: the last N events stored (as tail -n), then exit unless -f; "+
				"with --since: stop after the first N since then (0: no limit)")
			fs.BoolVar(&t.full, "full-tokens", false, "print tokens in full (default: a fingerprint)")
			return func(ctx context.Context, _ []string) error {
				if err := t.check(); err != nil {
					return err
				}
				// Without --since or -n there is nothing existing to show: follow.
				follow := t.follow || (t.since == 0 && t.limit == 0)
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
	// skip is how many selected events of the next message not to show:
	// the last N (-n) may begin inside a feedback message.
	skip int
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
	filters := []string{subject}
	if !t.dead && subject != root+".>" {
		// The confirmation service's subject has one token more.
		filters = append(filters, subject+"."+events.ConfirmSuffix)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: filters, DeliverPolicy: jetstream.DeliverNewPolicy}
	limit := t.limit
	switch {
	case t.since > 0:
		start := time.Now().Add(-t.since)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	case t.limit > 0:
		// -n alone: the last N stored, as tail -n; with -f, then every new one.
		seq, skip, err := t.lastStart(ctx, js, stream, filters, t.limit)
		if err != nil {
			return 0, err
		}
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq
		t.skip = skip
		if follow {
			limit = 0
		}
	}
	w := bufio.NewWriterSize(c.stdout, 64<<10)
	defer w.Flush()
	n := 0
	for {
		last, err := t.read(ctx, c, js, stream, cfg, follow, limit, w, &n)
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

// read shows the messages of one ordered consumer until limit events (0:
// no limit), the end of the existing ones (unless follow) or ctx's end
// (nil); it returns the stream sequence of the last message read.
func (t *tailer) read(ctx context.Context, c *cli, js jetstream.JetStream, stream string, cfg jetstream.OrderedConsumerConfig,
	follow bool, limit int, w *bufio.Writer, n *int) (last uint64, err error) {
	if cfg.DeliverPolicy == jetstream.DeliverByStartSequencePolicy {
		last = cfg.OptStartSeq - 1
	}
	if limit > 0 && *n >= limit {
		return last, nil
	}
	seq, err := scan(ctx, js, stream, cfg, follow, tailBatch, func(data []byte, meta *jetstream.MsgMetadata) (bool, error) {
		*n += t.show(c, w, data, limit-*n)
		if meta.NumPending == 0 {
			// Caught up: what was there has been shown.
			if err := w.Flush(); err != nil {
				return false, err
			}
		}
		return limit == 0 || *n < limit, nil
	})
	return max(last, seq), err
}

// lastStart finds where the last n events that filters select begin: the
// stream sequence of the message holding the first of them, and how many
// of that message's selected events come before it. It reads back from
// the end of the stream in windows that double, each message once,
// remembering only the messages that may hold the start; with fewer than
// n events stored, it starts at the stream's first message.
func (t *tailer) lastStart(ctx context.Context, js jetstream.JetStream, stream string, filters []string, n int) (seq uint64, skip int, err error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, 0, fmt.Errorf("tail %s: %w", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("tail %s: %w", stream, err)
	}
	first, hi := info.State.FirstSeq, info.State.LastSeq
	if info.State.Msgs == 0 {
		return hi + 1, 0, nil
	}
	type counted struct {
		seq uint64
		n   int // events the filters select
	}
	found := 0 // events selected after the current window
	for window := uint64(n); ; window *= 2 {
		lo := first
		if hi-first >= window {
			lo = hi - window + 1
		}
		need := n - found
		var q []counted // the window's last messages holding at least need events
		sum := 0
		cfg := jetstream.OrderedConsumerConfig{FilterSubjects: filters, DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: lo}
		_, err := scan(ctx, js, stream, cfg, false, int(min(window, tailBatch))+1, func(data []byte, meta *jetstream.MsgMetadata) (bool, error) {
			if meta.Sequence.Stream > hi {
				return false, nil
			}
			if k := t.count(data); k > 0 {
				q, sum = append(q, counted{meta.Sequence.Stream, k}), sum+k
				for len(q) > 1 && sum-q[0].n >= need {
					q, sum = q[1:], sum-q[0].n
				}
			}
			return meta.Sequence.Stream < hi, nil
		})
		switch {
		case err != nil:
			return 0, 0, err
		case sum >= need:
			return q[0].seq, sum - need, nil
		case lo == first:
			return first, 0, nil
		}
		found += sum
		hi = lo - 1
	}
}

// scan runs one ordered consumer and hands each message to fn until fn
// says stop, the existing messages are read (unless follow) or ctx ends
// (nil). It reads batch messages per round trip and returns the stream
// sequence of the last message handed to fn.
func scan(ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.OrderedConsumerConfig, follow bool, batch int,
	fn func(data []byte, meta *jetstream.MsgMetadata) (bool, error)) (last uint64, err error) {
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return 0, fmt.Errorf("tail %s: %w", stream, err)
	}
	if !follow {
		info, err := cons.Info(ctx)
		if err != nil {
			return 0, fmt.Errorf("tail %s: %w", stream, err)
		}
		if info.NumPending == 0 {
			return 0, nil
		}
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(batch))
	if err != nil {
		return 0, fmt.Errorf("tail %s: %w", stream, err)
	}
	defer it.Stop()
	next := []jetstream.NextOpt{jetstream.NextContext(ctx)}
	if !follow {
		// Messages may leave the stream (retention) after the count above:
		// when none comes for a while, ask whether any is left.
		next = []jetstream.NextOpt{jetstream.NextMaxWait(5 * time.Second)}
		defer context.AfterFunc(ctx, it.Stop)()
	}
	for {
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
		meta, err := msg.Metadata()
		if err != nil {
			continue // not a JetStream message: nothing to show
		}
		more, err := fn(msg.Data(), meta)
		if err != nil {
			return last, err
		}
		last = meta.Sequence.Stream
		if !more || (!follow && meta.NumPending == 0) {
			return last, nil
		}
	}
}

// show writes the events of one message, at most max of them (0: all),
// and returns how many it wrote: feedback is shown per token, a dead
// letter as one. Filtered out and unreadable ones are skipped, and so are
// the first t.skip selected ones.
func (t *tailer) show(c *cli, w *bufio.Writer, data []byte, max int) int {
	if t.dead {
		var d events.DeadLetter
		if json.Unmarshal(data, &d) != nil {
			return 0
		}
		if t.skip > 0 {
			t.skip--
			return 0
		}
		if c.json() {
			w.Write(data)
			w.WriteByte('\n')
			return 1
		}
		fmt.Fprintf(w, "%s dead stage=%s app=%s intent=%s attempts=%d tokens=%d%s reason=%q\n",
			d.At.Format(time.RFC3339), d.Stage, d.App, d.IntentID, d.Attempts, len(d.Tokens)+d.TokensOmitted, truncatedNote(d), d.Reason)
		return 1
	}
	fbs, err := events.DecodeFeedbackEvents(data)
	if err != nil {
		return 0
	}
	n := 0
	for i := range fbs {
		if max > 0 && n == max {
			break
		}
		if !t.selected(&fbs[i]) {
			continue
		}
		if t.skip > 0 {
			t.skip--
			continue
		}
		if t.showFeedback(c, w, &fbs[i]) {
			n++
		}
	}
	return n
}

// count returns how many events of one message show would write.
func (t *tailer) count(data []byte) int {
	if t.dead {
		if json.Unmarshal(data, new(events.DeadLetter)) != nil {
			return 0
		}
		return 1
	}
	fbs, err := events.DecodeFeedbackEvents(data)
	if err != nil {
		return 0
	}
	n := 0
	for i := range fbs {
		if t.selected(&fbs[i]) {
			n++
		}
	}
	return n
}

// selected reports whether a feedback event passes --outcome.
func (t *tailer) selected(f *events.Feedback) bool {
	return t.outcome == "" || string(f.Outcome) == t.outcome
}

// showFeedback writes one per-token event; false when it cannot.
func (t *tailer) showFeedback(c *cli, w *bufio.Writer, f *events.Feedback) bool {
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
