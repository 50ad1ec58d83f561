package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// deadFilter selects dead letters.
type deadFilter struct {
	stage, app, reason string
	since              time.Duration
	seq                uint64
	limit              int
}

func (f *deadFilter) register(fs *flag.FlagSet) {
	fs.StringVar(&f.stage, "stage", "", "only this stage: intents, apns, fcm, mi or feedback")
	fs.StringVar(&f.app, "app", "", "only this app")
	fs.StringVar(&f.reason, "reason", "", "only dead letters whose reason contains this text")
	fs.DurationVar(&f.since, "since", 0, "only dead letters newer than this (0: all)")
	fs.Uint64Var(&f.seq, "seq", 0, "only the dead letter with this PUSH_DEAD sequence")
	fs.IntVar(&f.limit, "n", 0, "at most this many (0: all)")
}

// check refuses a stage or app no dead letter can have: a typo would
// otherwise match nothing and report "0 replayed" (or purged) as success.
func (f *deadFilter) check() error {
	if f.stage != "" && !slices.Contains(deadStages(), f.stage) {
		return fmt.Errorf("unknown stage %q (want %s)", f.stage, strings.Join(deadStages(), ", "))
	}
	if f.app != "" && !events.ValidApp(f.app) {
		return fmt.Errorf("app %q: names are 1-64 characters of A-Z a-z 0-9 _ -", f.app)
	}
	return nil
}

// deadStages lists the stages of dead letters.
func deadStages() []string {
	out := []string{events.StageIntents}
	for _, p := range events.Platforms {
		out = append(out, events.SenderStage(p))
	}
	return append(out, events.StageFeedback)
}

func (f *deadFilter) subject() string {
	return events.DeadRoot + "." + orWildcard(f.stage) + "." + orWildcard(f.app)
}

// entry is one dead letter with its PUSH_DEAD sequence.
type entry struct {
	seq uint64
	d   events.DeadLetter
}

// each calls fn for every matching dead letter, oldest first.
func (f *deadFilter) each(ctx context.Context, js jetstream.JetStream, fn func(entry) error) error {
	s, err := js.Stream(ctx, events.StreamDead)
	if err != nil {
		return err
	}
	if f.seq > 0 {
		m, err := s.GetMsg(ctx, f.seq)
		if err != nil {
			return fmt.Errorf("dead letter %d: %w", f.seq, err)
		}
		var d events.DeadLetter
		if err := json.Unmarshal(m.Data, &d); err != nil {
			return fmt.Errorf("dead letter %d: %w", f.seq, err)
		}
		return fn(entry{m.Sequence, d})
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{f.subject()}}
	if f.since > 0 {
		start := time.Now().Add(-f.since)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	cons, err := js.OrderedConsumer(ctx, events.StreamDead, cfg)
	if err != nil {
		return err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return err
	}
	remaining := info.NumPending
	for n := 0; remaining > 0 && (f.limit == 0 || n < f.limit); remaining-- {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			return err
		}
		meta, err := msg.Metadata()
		if err != nil {
			return err
		}
		var d events.DeadLetter
		if json.Unmarshal(msg.Data(), &d) != nil || (f.reason != "" && !strings.Contains(d.Reason, f.reason)) {
			continue
		}
		if err := fn(entry{meta.Sequence.Stream, d}); err != nil {
			return err
		}
		n++
	}
	return nil
}

func (c *cli) dead(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: pushctl dead list|show|replay|purge [flags]")
	}
	verb := args[0]
	fs, common := c.flags("dead " + verb)
	var f deadFilter
	f.register(fs)
	keep := fs.Bool("keep", false, "replay: keep the dead letters after replaying them")
	all := fs.Bool("all", false, "purge: required to purge without a stage, app or seq filter")
	if verb == "show" && len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		seq, err := strconv.ParseUint(args[1], 10, 64)
		if err != nil {
			return fmt.Errorf("dead show: %q is not a sequence number", args[1])
		}
		f.seq, args = seq, append([]string{verb}, args[2:]...)
	}
	if err := c.parse(fs, args[1:]); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return fmt.Errorf("dead %s: %w", verb, err)
	}
	nc, js, err := c.connect(common)
	if err != nil {
		return err
	}
	defer nc.Close()
	switch verb {
	case "list":
		count := 0
		err := f.each(ctx, js, func(e entry) error {
			count++
			fmt.Fprintf(c.stdout, "%-6d %s stage=%s app=%s intent=%s attempts=%d tokens=%d%s reason=%q\n",
				e.seq, e.d.At.Format(time.RFC3339), e.d.Stage, e.d.App, e.d.IntentID, e.d.Attempts,
				len(e.d.Tokens)+e.d.TokensOmitted, truncatedNote(e.d), e.d.Reason)
			return nil
		})
		fmt.Fprintf(c.stdout, "%d dead letters\n", count)
		return err
	case "show":
		if f.seq == 0 {
			return errors.New("dead show: give a sequence number (see dead list)")
		}
		return f.each(ctx, js, func(e entry) error {
			b, _ := json.MarshalIndent(e.d, "", "  ")
			fmt.Fprintln(c.stdout, string(b))
			if e.d.Truncated {
				// On stderr: stdout stays the dead letter's JSON.
				fmt.Fprintf(c.stderr, "dead letter %d is %v\n", e.seq, errTruncated(e.d))
			}
			return nil
		})
	case "replay":
		return c.replay(ctx, js, &f, *keep)
	case "purge":
		return c.purge(ctx, js, &f, *all)
	}
	return fmt.Errorf("dead: unknown verb %q (want list, show, replay or purge)", verb)
}

// replay republishes each dead letter's original message to its original
// subject (for a sender's dead letter, only the tokens given up on) and then
// deletes the dead letter, unless keep.
func (c *cli) replay(ctx context.Context, js jetstream.JetStream, f *deadFilter, keep bool) error {
	s, err := js.Stream(ctx, events.StreamDead)
	if err != nil {
		return err
	}
	replayed, skipped := 0, 0
	err = f.each(ctx, js, func(e entry) error {
		msg, id, err := replayMsg(e)
		if err != nil {
			skipped++
			fmt.Fprintf(c.stderr, "skip %d: %v\n", e.seq, err)
			return nil
		}
		if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(id)); err != nil {
			return fmt.Errorf("replay %d: %w", e.seq, err)
		}
		if !keep {
			if err := s.DeleteMsg(ctx, e.seq); err != nil {
				return fmt.Errorf("replayed %d but could not delete it: %w", e.seq, err)
			}
		}
		replayed++
		fmt.Fprintf(c.stdout, "replayed %d to %s\n", e.seq, msg.Subject)
		return nil
	})
	fmt.Fprintf(c.stdout, "%d replayed\n", replayed)
	if err == nil && skipped > 0 {
		// Kept in PUSH_DEAD; a script must not take them for replayed.
		err = fmt.Errorf("dead replay: %d dead letters not replayable, kept", skipped)
	}
	return err
}

// errTruncated says why a truncated dead letter cannot be replayed: only a
// prefix of its original message was kept, with the whole one's size and
// SHA-256.
func errTruncated(d events.DeadLetter) error {
	return fmt.Errorf("truncated (%d bytes, sha256 %s): not replayable", d.PayloadSize, d.PayloadSHA256)
}

// truncatedNote marks a truncated dead letter in dead list.
func truncatedNote(d events.DeadLetter) string {
	switch {
	case !d.Truncated:
		return ""
	case d.TokensOmitted > 0:
		return fmt.Sprintf(" (%d omitted) truncated", d.TokensOmitted)
	}
	return " truncated"
}

// replayMsg rebuilds the message a dead letter holds, with a fresh dedup id
// so that the stream does not take it for the original.
func replayMsg(e entry) (*nats.Msg, string, error) {
	if e.d.Truncated {
		return nil, "", errTruncated(e.d)
	}
	body := e.d.Original()
	if len(body) == 0 || e.d.Subject == "" {
		return nil, "", errors.New("no original message to replay")
	}
	id := fmt.Sprintf("replay.%d", e.seq)
	if len(e.d.Tokens) > 0 && strings.HasPrefix(e.d.Subject, events.SendRoot+".") {
		job, err := events.DecodeJob(body)
		if err != nil {
			return nil, "", err
		}
		job.Tokens, job.Attempt = e.d.Tokens, 0
		job.ID = fmt.Sprintf("%s.replay%d", job.ID, e.seq)
		if body, err = json.Marshal(job); err != nil {
			return nil, "", err
		}
		id = job.ID
	}
	return &nats.Msg{Subject: e.d.Subject, Data: body}, id, nil
}

// purge deletes matching dead letters.
func (c *cli) purge(ctx context.Context, js jetstream.JetStream, f *deadFilter, all bool) error {
	s, err := js.Stream(ctx, events.StreamDead)
	if err != nil {
		return err
	}
	if f.reason != "" || f.since > 0 || f.seq > 0 || f.limit > 0 {
		n := 0
		err := f.each(ctx, js, func(e entry) error {
			n++
			return s.DeleteMsg(ctx, e.seq)
		})
		fmt.Fprintf(c.stdout, "%d purged\n", n)
		return err
	}
	if f.stage == "" && f.app == "" && !all {
		return errors.New("dead purge: give --stage, --app, --seq, --reason or --since, or --all to purge every dead letter")
	}
	before, _ := s.Info(ctx)
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(f.subject())); err != nil {
		return err
	}
	after, _ := s.Info(ctx)
	fmt.Fprintf(c.stdout, "%d purged\n", before.State.Msgs-after.State.Msgs)
	return nil
}
