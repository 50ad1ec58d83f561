// Command pushctl is the operator and producer CLI: publish intents, follow
// feedback and dead letters, and look up token state.
//
//	pushctl send --app demo --platform apns --token 0123abcd --title Hi --body There
//	pushctl send --file intent.json        (or - for stdin)
//	pushctl tail [--dead] [--app A] [--platform P] [--outcome O]
//	pushctl device register --app A --platform P --token T [--alias U] [--tag T]...
//	pushctl device get|unregister --app A --platform P --token T
//	pushctl device list --app A --alias U | --tag T [--all]
//	pushctl dead list|show SEQ|replay|purge [--stage S] [--app A] [--reason R] [--since D]
//	pushctl cancel --app A ID
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/fleet"
)

const usage = `pushctl: publish push intents and inspect the fleet

commands:
  send        publish an intent (flags, or --file FILE|- with a JSON intent); prints its id
  tail        follow feedback events (or --dead: dead letters), filtered by app, platform, outcome
  device      register|unregister|get|list|stats devices in the token registry
  dead        list|show|replay|purge dead letters (filters: --stage --app --reason --since --seq -n)
  cancel      cancel --app A ID: drop a scheduled (send_at) intent before it fires; its tokens get "cancelled" feedback
  provision   create or update the streams and the KV buckets (--stream-replicas, retention flags)

every command takes --nats-url (PUSHFLEET_NATS_URL, default nats://127.0.0.1:4222)
and the NATS auth and TLS flags; "pushctl COMMAND -h" lists a command's flags.
`

func main() {
	fleet.Main("pushctl", func(ctx context.Context) error {
		return run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	})
}

// cli is one invocation's environment.
type cli struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := &cli{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("a command is required")
	}
	switch args[0] {
	case "send":
		return c.send(ctx, args[1:])
	case "tail":
		return c.tail(ctx, args[1:])
	case "dead":
		return c.dead(ctx, args[1:])
	case "provision":
		return c.provision(ctx, args[1:])
	case "cancel":
		return c.cancel(ctx, args[1:])
	case "device":
		return c.device(ctx, args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// flags returns a flag set with the connection flags registered.
func (c *cli) flags(name string) (*flag.FlagSet, *config.Common) {
	fs := flag.NewFlagSet("pushctl "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	var common config.Common
	common.Register(fs, "")
	return fs, &common
}

func (c *cli) parse(fs *flag.FlagSet, args []string) error {
	return config.Parse(fs, args, c.getenv)
}

// connect dials NATS with the common flags.
func (c *cli) connect(common *config.Common) (*nats.Conn, jetstream.JetStream, error) {
	log := common.Logger(c.stderr, "pushctl")
	opts, err := common.NATSOptions("pushctl", log)
	if err != nil {
		return nil, nil, err
	}
	opts = append(opts, nats.MaxReconnects(2))
	return fleet.Connect(common.NATSURL, opts...)
}
