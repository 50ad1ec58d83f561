package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/registry"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

const deviceUsage = "usage: pushctl device register|unregister|get|list|stats [flags]"

// device talks to the token registry service (pushfleet-registry) on
// push.registry.<verb>.<app>. It connects as a registry client of the app:
// inbox prefix _INBOX_registry-<app>, so it runs as that app's registry
// user (registry-<app>, allowed push.registry.*.<app> only) or as admin.
// stats with --app "" counts every app (push.registry.stats-all): admin only.
func (c *cli) device(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New(deviceUsage)
	}
	verb := args[0]
	fs, common := c.flags("device " + verb)
	var ref registry.DeviceRef
	var platform string
	fs.StringVar(&ref.App, "app", "demo", "app name (stats: \"\" counts every app)")
	fs.StringVar(&platform, "platform", "", "apns, fcm or mi")
	fs.StringVar(&ref.Token, "token", "", "device token")
	alias := fs.String("alias", "", "register: the device's alias; list: list this alias")
	var tags listFlag
	fs.Var(&tags, "tag", "register: a tag of the device (repeatable); list: list this tag")
	locale := fs.String("locale", "", "register: the device's locale")
	limit := fs.Int("limit", 100, "list: devices per page (at most 1000)")
	all := fs.Bool("all", false, "list: follow every page")
	if err := c.parse(fs, args[1:]); err != nil {
		return err
	}
	if ref.App == "" && verb != "stats" || ref.App != "" && !events.ValidApp(ref.App) {
		return fmt.Errorf("--app %q: must be 1-64 characters of A-Z a-z 0-9 _ -", ref.App)
	}
	nc, err := c.connectRegistry(common, ref.App)
	if err != nil {
		return err
	}
	defer nc.Close()
	cl := registry.NewClient(nc)
	needRef := func() error {
		p, err := events.ParsePlatform(platform)
		if err != nil {
			return err
		}
		ref.Platform = p
		if ref.Token == "" {
			return errors.New("--token is required")
		}
		return nil
	}
	switch verb {
	case "register":
		if err := needRef(); err != nil {
			return err
		}
		d, err := cl.Register(ctx, registry.RegisterRequest{DeviceRef: ref, Alias: *alias, Tags: tags, Locale: *locale})
		if err != nil {
			return err
		}
		return c.printJSON(d)
	case "unregister":
		if err := needRef(); err != nil {
			return err
		}
		if err := cl.Unregister(ctx, ref); err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, "unregistered")
		return nil
	case "get":
		if err := needRef(); err != nil {
			return err
		}
		d, err := cl.Get(ctx, ref)
		if err != nil {
			return err
		}
		return c.printJSON(d)
	case "list":
		return c.listDevices(ctx, cl, ref.App, *alias, tags, *limit, *all)
	case "stats":
		st, err := cl.Stats(ctx, registry.StatsRequest{App: ref.App})
		if err != nil {
			return err
		}
		return c.printJSON(st)
	}
	return fmt.Errorf("device: unknown verb %q; %s", verb, deviceUsage)
}

// connectRegistry dials NATS as a registry client of app: connection name
// and inbox prefix registry-<app> (pushctl's own for every app).
func (c *cli) connectRegistry(common *config.Common, app string) (*nats.Conn, error) {
	name := "pushctl"
	if app != "" {
		name = registry.ClientName(app)
	}
	opts, err := common.NATSOptions(name, common.Logger(c.stderr, "pushctl"))
	if err != nil {
		return nil, err
	}
	nc, _, err := fleet.Connect(common.NATSURL, append(opts, nats.MaxReconnects(2))...)
	return nc, err
}

func (c *cli) listDevices(ctx context.Context, cl *registry.Client, app, alias string, tags []string, limit int, all bool) error {
	if (alias == "") == (len(tags) == 0) || len(tags) > 1 {
		return errors.New("device list: give exactly one of --alias or --tag")
	}
	page := registry.Paging{Limit: limit}
	total := 0
	for {
		var resp *registry.ListResponse
		var err error
		if alias != "" {
			resp, err = cl.ListByAlias(ctx, registry.ListByAliasRequest{App: app, Alias: alias, Paging: page})
		} else {
			resp, err = cl.ListByTag(ctx, registry.ListByTagRequest{App: app, Tag: tags[0], Paging: page})
		}
		if err != nil {
			return err
		}
		for _, d := range resp.Devices {
			fmt.Fprintf(c.stdout, "%s %s\n", d.Platform, d.Token)
		}
		total += len(resp.Devices)
		if resp.Next == "" || !all {
			if resp.Next != "" {
				fmt.Fprintf(c.stdout, "%d devices shown; more with --all\n", total)
			} else {
				fmt.Fprintf(c.stdout, "%d devices\n", total)
			}
			return nil
		}
		page.Cursor = resp.Next
	}
}

func (c *cli) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, string(b))
	return nil
}
