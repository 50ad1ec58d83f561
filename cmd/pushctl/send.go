package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

func sendCommand() *command {
	return &command{
		name:    "send",
		args:    "--app A (--platform P --token T | --alias U | --tag T | --all | --topic P:NAME) [--platforms P,Q] [--title ...] [--silent --data K=V] [--confirm-within D] | --file FILE|-",
		summary: "publish an intent (flags, or --file FILE|- with a JSON intent); prints its id",
		setup: func(c *cli, fs *flag.FlagSet) func(context.Context, []string) error {
			file := fs.String("file", "", "JSON intent file, or - for stdin (the other intent flags are then ignored)")
			id := fs.String("id", "", "intent id (idempotency key; default: generated)")
			app := fs.String("app", "", "app name (required without --file)")
			platform := fs.String("platform", "", "platform of --token: apns, fcm, mi, hms or webpush (a webpush token is the subscription JSON)")
			token := fs.String("token", "", "device token")
			alias := fs.String("alias", "", "send to every device of this alias")
			tag := fs.String("tag", "", "send to every device with this tag")
			title := fs.String("title", "", "notification title")
			body := fs.String("body", "", "notification body")
			priority := fs.String("priority", "", "high or normal")
			ttl := fs.Duration("ttl", 0, "expire the notification after this long (0: provider default)")
			sendAt := fs.String("send-at", "", "deliver at this RFC 3339 time (the dispatcher holds it until then; cancel with pushctl cancel)")
			horizon := fs.Duration("schedule-horizon", events.DefaultScheduleHorizon,
				"refuse a --send-at further ahead, as the dispatcher's --schedule-horizon does (0: leave it to the dispatcher)")
			more := registerTargetFlags(fs)
			return func(ctx context.Context, _ []string) error {
				var in events.Intent
				if *file != "" {
					if err := readIntent(*file, c.stdin, &in); err != nil {
						return err
					}
				} else {
					if err := requireApp("send", *app); err != nil {
						return err
					}
					if *ttl < 0 {
						return usagef("send: --ttl %v: must not be negative (0: the provider's default)", *ttl)
					}
					if *token != "" && *platform == "" {
						return usagef("send: --token needs --platform (apns, fcm, mi, hms or webpush)")
					}
					in = events.Intent{App: *app, Targets: events.Targets{Alias: *alias, Tag: *tag},
						Notification: events.Notification{Title: *title, Body: *body, Priority: events.Priority(*priority)}}
					if *token != "" {
						in.Targets.Tokens = []events.Target{{Platform: events.Platform(*platform), Token: *token}}
					}
					if err := more.apply(&in); err != nil {
						return err
					}
					if *ttl > 0 {
						exp := time.Now().Add(*ttl).UTC()
						in.Notification.Expiry = &exp
					}
					if *sendAt != "" {
						t, err := time.Parse(time.RFC3339, *sendAt)
						if err != nil {
							return usagef("send: --send-at: %v", err)
						}
						in.SendAt = &t
					}
				}
				if *horizon < 0 {
					return usagef("send: --schedule-horizon must not be negative")
				}
				if *id != "" {
					in.ID = *id
				}
				if in.ID == "" {
					in.ID = fmt.Sprintf("cli-%d", time.Now().UnixNano())
				}
				nc, js, err := c.connect(false)
				if err != nil {
					return err
				}
				defer nc.Close()
				ack, err := events.NewPublisher(js, events.WithScheduleHorizon(*horizon)).Publish(ctx, &in)
				if err != nil {
					return err
				}
				if c.json() {
					return c.printJSON(map[string]any{"id": in.ID, "app": in.App, "duplicate": ack.Duplicate,
						"stream": ack.Stream, "seq": ack.Sequence})
				}
				dup := ""
				if ack.Duplicate {
					dup = " (duplicate: already published inside the dedup window)"
				}
				fmt.Fprintf(c.stdout, "%s%s\n", in.ID, dup)
				return nil
			}
		},
	}
}

func readIntent(path string, stdin io.Reader, in *events.Intent) error {
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return usagef("send: --file: %v", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, 2<<20))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, in); err != nil {
		return fmt.Errorf("%w intent: %v", events.ErrMalformed, err)
	}
	if in.App == "" {
		return usagef("send: the intent has no app")
	}
	return nil
}
