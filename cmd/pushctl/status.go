package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/pushfleet/pushfleet/internal/confirmstate"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// statusCommand shows where an intent that asked for confirmation stands:
// its window, its re-sends and each token's state, from the confirmation
// service's state (KV push_confirm).
func statusCommand() *command {
	return &command{
		name:    "status",
		args:    "--app A ID",
		summary: "show each token's state of an intent that asked for confirmation (sent, delivered, pending_resend, confirmed, unconfirmed…)",
		minArgs: 1, maxArgs: 1,
		setup: func(c *cli, fs *flag.FlagSet) func(context.Context, []string) error {
			app := fs.String("app", "", "app of the intent (required)")
			return func(ctx context.Context, args []string) error {
				if err := requireApp("status", *app); err != nil {
					return err
				}
				nc, js, err := c.connect(false)
				if err != nil {
					return err
				}
				defer nc.Close()
				kv, err := js.KeyValue(ctx, events.ConfirmBucket)
				if err != nil {
					return fmt.Errorf("confirmation state (bucket %s): %w", events.ConfirmBucket, err)
				}
				st, err := confirmstate.ReadStatus(ctx, kv, *app, args[0])
				if errors.Is(err, confirmstate.ErrNotWatched) {
					return fmt.Errorf("%w: %w (only intents with confirm are tracked, until a day after their window; "+
						"pushctl tail --app %s shows any intent's outcomes)", errNotFound, err, *app)
				}
				if err != nil {
					return err
				}
				if c.json() {
					return c.printJSON(st)
				}
				c.printStatus(st)
				return nil
			}
		},
	}
}

func (c *cli) printStatus(st *confirmstate.Status) {
	w := &st.Watch
	state := "open"
	switch {
	case w.Done:
		state = "ended"
	case w.Closing:
		state = "ending"
	}
	fmt.Fprintf(c.stdout, "intent %s (app %s): confirmation window %s, %s to %s, re-sent %d of %d time(s)",
		w.ID, w.App, state, w.Start.Format(time.RFC3339), w.Deadline.Format(time.RFC3339), w.Sent, w.Resends)
	if st.NextResend != nil {
		fmt.Fprintf(c.stdout, ", next re-send %s", st.NextResend.Format(time.RFC3339))
	}
	fmt.Fprintln(c.stdout)
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PLATFORM\tTOKEN\tSTATE\tSINCE")
	for _, t := range st.Tokens {
		since := "-"
		if t.At != nil {
			since = t.At.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Platform, t.Token, t.State, since)
	}
	_ = tw.Flush()
}

// confirmCommand publishes a confirmation, as an app's backend does when
// a device confirms (events.Publisher.Confirm).
func confirmCommand() *command {
	return &command{
		name:    "confirm",
		args:    "--app A [--platform P] ID TOKEN",
		summary: "confirm, as a device would through its app's backend, a notification that asked for confirmation",
		minArgs: 2, maxArgs: 2,
		setup: func(c *cli, fs *flag.FlagSet) func(context.Context, []string) error {
			app := fs.String("app", "", "app of the intent (required)")
			platform := fs.String("platform", "", "the token's platform (only when one token was sent on two)")
			return func(ctx context.Context, args []string) error {
				if err := requireApp("confirm", *app); err != nil {
					return err
				}
				cf := events.Confirmation{IntentID: args[0], Token: args[1], Platform: events.Platform(*platform)}
				if err := cf.Validate(); err != nil {
					return &usageError{err}
				}
				nc, js, err := c.connect(false)
				if err != nil {
					return err
				}
				defer nc.Close()
				ack, err := events.NewPublisher(js).Confirm(ctx, *app, cf)
				if err != nil {
					return err
				}
				if c.json() {
					return c.printJSON(map[string]any{"intent_id": cf.IntentID, "app": *app, "stream": ack.Stream,
						"seq": ack.Sequence, "duplicate": ack.Duplicate})
				}
				fmt.Fprintf(c.stdout, "confirmation of %s stored (%s seq %d%s); pushctl status --app %s %s shows its effect\n",
					cf.IntentID, ack.Stream, ack.Sequence, dupNote(ack.Duplicate), *app, cf.IntentID)
				return nil
			}
		},
	}
}

func dupNote(dup bool) string {
	if dup {
		return ", a duplicate"
	}
	return ""
}
