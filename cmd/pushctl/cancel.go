package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// cancel deletes a scheduled intent before it fires.
func (c *cli) cancel(ctx context.Context, args []string) error {
	fs, common := c.flags("cancel")
	app := fs.String("app", "demo", "app of the scheduled intent")
	var id string
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		id, args = args[0], args[1:]
	}
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if id == "" {
		return errors.New("usage: pushctl cancel ID [--app A]")
	}
	nc, js, err := c.connect(common)
	if err != nil {
		return err
	}
	defer nc.Close()
	s, err := js.Stream(ctx, events.StreamIntents)
	if err != nil {
		return err
	}
	subject := events.ScheduleSubject(*app, id)
	m, err := s.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("no scheduled intent %q for app %q: it already fired, was cancelled, or never existed", id, *app)
	}
	if err != nil {
		return err
	}
	if err := s.DeleteMsg(ctx, m.Sequence); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "cancelled %s (was due %s)\n", id, m.Header.Get(jetstream.ScheduleHeader))
	return nil
}
