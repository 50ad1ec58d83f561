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
	fs.StringVar(&f.stage, "stage", "", "only this stage: intents, apns, fcm, mi, hms, webpush, feedback or confirm")
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
	return append(out, events.StageFeedback, events.StageConfirm)
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

// deadVerb is one verb of dead: its own flags beyond the filter, and what
// it does with the connection.
func deadVerb(verb, args, summary string, minArgs, maxArgs int,
	setup func(c *cli, fs *flag.FlagSet, f *deadFilter) func(ctx context.Context, js jetstream.JetStream, args []string) error) *command {
	return &command{
		name: "dead " + verb, args: args, summary: summary, minArgs: minArgs, maxArgs: maxArgs,
		setup: func(c *cli, fs *flag.FlagSet) func(context.Context, []string) error {
			var f deadFilter
			if verb != "show" {
				f.register(fs)
			}
			runFn := setup(c, fs, &f)
			return func(ctx context.Context, args []string) error {
				if err := f.check(); err != nil {
					return &usageError{fmt.Errorf("dead %s: %w", verb, err)}
				}
				if f.since < 0 || f.limit < 0 {
					return usagef("dead %s: --since and -n must not be negative", verb)
				}
				nc, js, err := c.connect(false)
				if err != nil {
					return err
				}
				defer nc.Close()
				return runFn(ctx, js, args)
			}
		},
	}
}

// deadOut is a dead letter with its PUSH_DEAD sequence, for -o json.
type deadOut struct {
	Seq        uint64            `json:"seq"`
	DeadLetter events.DeadLetter `json:"dead_letter"`
}

const deadFilterArgs = "[--stage S] [--app A] [--reason R] [--since D] [--seq N] [-n N]"

func deadCommands() []*command {
	return []*command{
		deadVerb("list", deadFilterArgs, "list dead letters, oldest first (-o json: one object per line)", 0, 0,
			func(c *cli, _ *flag.FlagSet, f *deadFilter) func(context.Context, jetstream.JetStream, []string) error {
				return func(ctx context.Context, js jetstream.JetStream, _ []string) error {
					count := 0
					err := f.each(ctx, js, func(e entry) error {
						count++
						if c.json() {
							b, err := json.Marshal(deadOut{e.seq, e.d})
							if err != nil {
								return err
							}
							_, err = fmt.Fprintln(c.stdout, string(b))
							return err
						}
						fmt.Fprintf(c.stdout, "%-6d %s stage=%s app=%s intent=%s attempts=%d tokens=%d%s reason=%q\n",
							e.seq, e.d.At.Format(time.RFC3339), e.d.Stage, e.d.App, e.d.IntentID, e.d.Attempts,
							len(e.d.Tokens)+e.d.TokensOmitted, truncatedNote(e.d), e.d.Reason)
						return nil
					})
					if !c.json() {
						fmt.Fprintf(c.stdout, "%d dead letters\n", count)
					}
					return err
				}
			}),
		deadVerb("show", "SEQ", "show one dead letter in full (SEQ from dead list)", 1, 1,
			func(c *cli, _ *flag.FlagSet, f *deadFilter) func(context.Context, jetstream.JetStream, []string) error {
				return func(ctx context.Context, js jetstream.JetStream, args []string) error {
					seq, err := strconv.ParseUint(args[0], 10, 64)
					if err != nil || seq == 0 {
						return usagef("dead show: %q is not a sequence number (see dead list)", args[0])
					}
					f.seq = seq
					return f.each(ctx, js, func(e entry) error {
						var v any = e.d
						if c.json() {
							v = deadOut{e.seq, e.d}
						}
						if err := c.printJSON(v); err != nil {
							return err
						}
						if e.d.Truncated {
							// On stderr: stdout stays the dead letter's JSON.
							fmt.Fprintf(c.stderr, "dead letter %d is %v\n", e.seq, errTruncated(e.d))
						}
						return nil
					})
				}
			}),
		deadVerb("replay", deadFilterArgs+" [--keep]",
			"republish dead letters to their original subjects (a sender's: only the tokens given up on), then delete them", 0, 0,
			func(c *cli, fs *flag.FlagSet, f *deadFilter) func(context.Context, jetstream.JetStream, []string) error {
				keep := fs.Bool("keep", false, "keep the dead letters after replaying them")
				return func(ctx context.Context, js jetstream.JetStream, _ []string) error {
					return c.replay(ctx, js, f, *keep)
				}
			}),
		deadVerb("purge", deadFilterArgs+" [--all]", "delete dead letters (a filter, or --all for every one)", 0, 0,
			func(c *cli, fs *flag.FlagSet, f *deadFilter) func(context.Context, jetstream.JetStream, []string) error {
				all := fs.Bool("all", false, "required to purge without a stage, app or seq filter")
				return func(ctx context.Context, js jetstream.JetStream, _ []string) error {
					return c.purge(ctx, js, f, *all)
				}
			}),
	}
}

// replay republishes each dead letter's original message to its original
// subject (for a sender's dead letter, only the tokens given up on) and then
// deletes the dead letter, unless keep.
func (c *cli) replay(ctx context.Context, js jetstream.JetStream, f *deadFilter, keep bool) error {
	s, err := js.Stream(ctx, events.StreamDead)
	if err != nil {
		return err
	}
	type replayed struct {
		Seq     uint64 `json:"seq"`
		Subject string `json:"subject"`
	}
	type skipped struct {
		Seq    uint64 `json:"seq"`
		Reason string `json:"reason"`
	}
	out := struct {
		Replayed []replayed `json:"replayed"`
		Skipped  []skipped  `json:"skipped"`
	}{Replayed: []replayed{}, Skipped: []skipped{}}
	err = f.each(ctx, js, func(e entry) error {
		msg, id, err := replayMsg(e)
		if err != nil {
			out.Skipped = append(out.Skipped, skipped{e.seq, err.Error()})
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
		out.Replayed = append(out.Replayed, replayed{e.seq, msg.Subject})
		if !c.json() {
			fmt.Fprintf(c.stdout, "replayed %d to %s\n", e.seq, msg.Subject)
		}
		return nil
	})
	if c.json() {
		if perr := c.printJSON(out); err == nil {
			err = perr
		}
	} else {
		fmt.Fprintf(c.stdout, "%d replayed\n", len(out.Replayed))
	}
	if err == nil && len(out.Skipped) > 0 {
		// Kept in PUSH_DEAD; a script must not take them for replayed.
		err = fmt.Errorf("dead replay: %d dead letters not replayable, kept", len(out.Skipped))
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
	if isJobSubject(e.d.Subject) {
		job, err := events.DecodeJob(body)
		if err != nil {
			return nil, "", err
		}
		if len(e.d.Tokens) > 0 {
			idx, err := positions(job.Tokens, e.d.Tokens)
			if err != nil {
				return nil, "", err
			}
			// The dead tokens only, each with its own notification (a
			// coalesced job holds several).
			job = job.Subset(idx)
		}
		// A new job id, whole job or part: under its old one the sender,
		// which remembers the jobs it took (push_job_ids), would drop it.
		job.Attempt = 0
		job.ID = fmt.Sprintf("%s.replay%d", job.ID, e.seq)
		if body, err = json.Marshal(job); err != nil {
			return nil, "", err
		}
		id = events.JobMsgID(job.App, job.ID)
	}
	return &nats.Msg{Subject: e.d.Subject, Data: body}, id, nil
}

// isJobSubject reports whether subject carries delivery jobs: a job
// (push.send.<platform>.<app>) or a re-queued one when due
// (push.retry.<platform>.due.<app>).
func isJobSubject(subject string) bool {
	if strings.HasPrefix(subject, events.SendRoot+".") {
		return true
	}
	rest, ok := strings.CutPrefix(subject, events.RetryRoot+".")
	_, due, _ := strings.Cut(rest, ".")
	return ok && strings.HasPrefix(due, "due.")
}

// positions maps each of tokens to its position in all, each position
// taken once (a coalesced job may hold one device for two notifications).
func positions(all, tokens []string) ([]int, error) {
	used := make([]bool, len(all))
	idx := make([]int, 0, len(tokens))
	for n, t := range tokens {
		found := -1
		for i, a := range all {
			if a == t && !used[i] {
				found = i
				break
			}
		}
		if found < 0 {
			return nil, fmt.Errorf("dead token %d of %d is not in its job", n+1, len(tokens))
		}
		used[found] = true
		idx = append(idx, found)
	}
	return idx, nil
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
		c.printPurged(n)
		return err
	}
	if f.stage == "" && f.app == "" && !all {
		return usagef("dead purge: give --stage, --app, --seq, --reason or --since, or --all to purge every dead letter")
	}
	before, err := s.Info(ctx)
	if err != nil {
		return err
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(f.subject())); err != nil {
		return err
	}
	after, err := s.Info(ctx)
	if err != nil {
		return err
	}
	c.printPurged(int(before.State.Msgs - after.State.Msgs))
	return nil
}

func (c *cli) printPurged(n int) {
	if c.json() {
		_ = c.printJSON(map[string]int{"purged": n})
		return
	}
	fmt.Fprintf(c.stdout, "%d purged\n", n)
}
