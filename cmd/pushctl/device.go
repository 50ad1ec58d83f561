package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/registryapi"
)

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// deviceFlags are the flags naming one device.
type deviceFlags struct {
	ref      registryapi.DeviceRef
	platform string
}

func (d *deviceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.ref.App, "app", "", "app name (required)")
	fs.StringVar(&d.platform, "platform", "", "apns, fcm, mi, hms or webpush (required)")
	fs.StringVar(&d.ref.Token, "token", "", "device token (required)")
}

// check validates the device's flags.
func (d *deviceFlags) check(cmd string) error {
	if err := requireApp(cmd, d.ref.App); err != nil {
		return err
	}
	p, err := events.ParsePlatform(d.platform)
	if err != nil {
		return usagef("%s: --platform: %v", cmd, err)
	}
	d.ref.Platform = p
	if d.ref.Token == "" {
		return usagef("%s: --token is required", cmd)
	}
	return nil
}

// deviceCommands are the verbs of device. They talk to the token registry
// service (pushfleet-registry) on push.registry.<verb>.<app>, connected as
// a registry client of the app: inbox prefix _INBOX_registry-<app>, so
// they run as that app's registry user (registry-<app>, allowed
// push.registry.*.<app> only) or as admin. stats without --app counts
// every app (push.registry.stats-all): admin only.
func deviceCommands() []*command {
	return []*command{
		{
			name: "device register", args: "--app A --platform P --token T [--alias U] [--tag T]... [--locale L]",
			summary: "register a device (replacing an earlier registration of its token)",
			setup: func(c *cli, fs *flag.FlagSet) func(context.Context, []string) error {
				var d deviceFlags
				d.register(fs)
				alias := fs.String("alias", "", "the device's alias (its user)")
				var tags listFlag
				fs.Var(&tags, "tag", "a tag of the device (repeatable)")
				locale := fs.String("locale", "", "the device's locale")
				return func(ctx context.Context, _ []string) error {
					if err := d.check("device register"); err != nil {
						return err
					}
					return c.withRegistry(d.ref.App, func(cl *registryapi.Client) error {
						dev, err := cl.Register(ctx, registryapi.RegisterRequest{DeviceRef: d.ref, Alias: *alias, Tags: tags, Locale: *locale})
						if err != nil {
							return err
						}
						return c.printDevice(dev)
					})
				}
			},
		},
		{
			name: "device unregister", args: "--app A --platform P --token T",
			summary: "remove a device's registration",
			setup: func(c *cli, fs *flag.FlagSet) func(context.Context, []string) error {
				var d deviceFlags
				d.register(fs)
				return func(ctx context.Context, _ []string) error {
					if err := d.check("device unregister"); err != nil {
						return err
					}
					return c.withRegistry(d.ref.App, func(cl *registryapi.Client) error {
						if err := cl.Unregister(ctx, d.ref); err != nil {
							return noRecord(err, d.ref)
						}
						if c.json() {
							return c.printJSON(registryapi.UnregisterResponse{Removed: true})
						}
						fmt.Fprintln(c.stdout, "unregistered")
						return nil
					})
				}
			},
		},
		{
			name: "device get", args: "--app A --platform P --token T",
			summary: "show a token's record: registration and delivery state",
			setup: func(c *cli, fs *flag.FlagSet) func(context.Context, []string) error {
				var d deviceFlags
				d.register(fs)
				return func(ctx context.Context, _ []string) error {
					if err := d.check("device get"); err != nil {
						return err
					}
					return c.withRegistry(d.ref.App, func(cl *registryapi.Client) error {
						dev, err := cl.Get(ctx, d.ref)
						if err != nil {
							return noRecord(err, d.ref)
						}
						return c.printDevice(dev)
					})
				}
			},
		},
		{
			name: "device list", args: "--app A (--alias U | --tag T) [--limit N] [--all]",
			summary: "list the devices of an alias or a tag",
			setup: func(c *cli, fs *flag.FlagSet) func(context.Context, []string) error {
				app := fs.String("app", "", "app name (required)")
				alias := fs.String("alias", "", "list this alias's devices")
				tag := fs.String("tag", "", "list this tag's devices")
				limit := fs.Int("limit", registryapi.DefaultPageLimit, fmt.Sprintf("devices per page (at most %d)", registryapi.MaxPageLimit))
				all := fs.Bool("all", false, "follow every page")
				return func(ctx context.Context, _ []string) error {
					if err := requireApp("device list", *app); err != nil {
						return err
					}
					if (*alias == "") == (*tag == "") {
						return usagef("device list: give exactly one of --alias or --tag")
					}
					if *limit < 1 || *limit > registryapi.MaxPageLimit {
						return usagef("device list: --limit must be 1-%d", registryapi.MaxPageLimit)
					}
					return c.withRegistry(*app, func(cl *registryapi.Client) error {
						return c.listDevices(ctx, cl, *app, *alias, *tag, *limit, *all)
					})
				}
			},
		},
		{
			name: "device stats", args: "[--app A]",
			summary: "count devices by platform and state (without --app: every app, operators only)",
			setup: func(c *cli, fs *flag.FlagSet) func(context.Context, []string) error {
				app := fs.String("app", "", "count this app's devices (empty: every app, on push.registry.stats-all)")
				return func(ctx context.Context, _ []string) error {
					if err := checkApp("device stats", *app); err != nil {
						return err
					}
					return c.withRegistry(*app, func(cl *registryapi.Client) error {
						st, err := cl.Stats(ctx, registryapi.StatsRequest{App: *app})
						if err != nil {
							return err
						}
						if c.json() {
							return c.printJSON(st)
						}
						for _, n := range st.Counts {
							fmt.Fprintf(c.stdout, "%-20s %-5s %-8s %d\n", n.App, n.Platform, n.State, n.Devices)
						}
						fmt.Fprintf(c.stdout, "total %d (%s, as of %s)\n", st.Total, st.Source, st.AsOf.Format("2006-01-02T15:04:05Z07:00"))
						return nil
					})
				}
			},
		},
	}
}

// noRecord turns a registry 404 into what is known: which tokens have a
// record, and where a delivered token's outcomes are. It says so once:
// the registry's own description says the same and is left out.
func noRecord(err error, ref registryapi.DeviceRef) error {
	if !errors.Is(err, registryapi.ErrNotFound) {
		return err
	}
	return &noRecordError{ref: ref, err: err}
}

// noRecordError is a registry 404 (errors.Is ErrNotFound: exit 3) with
// pushctl's explanation in place of the registry's.
type noRecordError struct {
	ref registryapi.DeviceRef
	err error
}

func (e *noRecordError) Error() string {
	return fmt.Sprintf("no record for %s token %q of app %s: the registry keeps one only for tokens registered "+
		"(pushctl device register) and tokens a provider reported invalid or replaced; a token that was only "+
		"delivered to has none (its outcomes: pushctl tail --app %s --platform %s --since 24h --full-tokens)",
		e.ref.Platform, e.ref.Token, e.ref.App, e.ref.App, e.ref.Platform)
}

func (e *noRecordError) Unwrap() error { return e.err }

// withRegistry dials NATS as a registry client of app (connection name
// and inbox prefix registry-<app>; pushctl's own for every app) and runs fn.
func (c *cli) withRegistry(app string, fn func(*registryapi.Client) error) error {
	name := "pushctl"
	if app != "" {
		name = registryapi.ClientName(app)
	}
	nc, err := c.dial(name, false)
	if err != nil {
		return err
	}
	defer nc.Close()
	return fn(registryapi.NewClient(nc))
}

// printDevice shows a device: its JSON, in both formats (its fields vary).
func (c *cli) printDevice(d *registryapi.Device) error {
	return c.printJSON(d)
}

func (c *cli) listDevices(ctx context.Context, cl *registryapi.Client, app, alias, tag string, limit int, all bool) error {
	page := registryapi.Paging{Limit: limit}
	var devices []events.Target
	for {
		var resp *registryapi.ListResponse
		var err error
		if alias != "" {
			resp, err = cl.ListByAlias(ctx, registryapi.ListByAliasRequest{App: app, Alias: alias, Paging: page})
		} else {
			resp, err = cl.ListByTag(ctx, registryapi.ListByTagRequest{App: app, Tag: tag, Paging: page})
		}
		if err != nil {
			return err
		}
		if !c.json() {
			for _, d := range resp.Devices {
				fmt.Fprintf(c.stdout, "%s %s\n", d.Platform, d.Token)
			}
		}
		devices = append(devices, resp.Devices...)
		if resp.Next == "" || !all {
			if c.json() {
				if devices == nil {
					devices = []events.Target{}
				}
				return c.printJSON(registryapi.ListResponse{Devices: devices, Next: resp.Next})
			}
			if resp.Next != "" {
				fmt.Fprintf(c.stdout, "%d devices shown; more with --all\n", len(devices))
			} else {
				fmt.Fprintf(c.stdout, "%d devices\n", len(devices))
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
