// Command pushbench benchmarks the pushfleet fleet end to end, side by side
// with its two ceilings: raw JetStream on the same server and the bare
// apns2 client against the same APNs fake.
//
//	go run ./tools/pushbench                                  # every scenario
//	go run ./tools/pushbench --scenarios s1:apns:0ms --count 20000
//	go run ./tools/pushbench --scenarios s1:apns:0ms:gw,s1:apns:0ms:gw100 --count 5000 --no-ceilings  # through the HTTP gateway
//	go run ./tools/pushbench -h                               # everything else
//
// The fleet under test runs in its own process (`pushbench fleet`, the
// all-in-one: embedded JetStream with file storage in a temporary
// directory, or an external server with --nats-url), the provider fakes in
// another (`pushbench fakes`, or inside the fleet with --fakes inproc), and
// the load generator in this one, so that the fleet's CPU and memory are
// measured alone. See docs/BENCHMARKS.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/pushfleet/pushfleet/internal/config"
)

// childEnv marks the processes pushbench starts itself (the fakes and the
// fleet), so that a test binary standing in for pushbench can tell.
const childEnv = "PUSHBENCH_CHILD"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], config.Getenv, os.Stdin, os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pushbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "fakes":
			return runFakes(ctx, args[1:], getenv, stdin, stdout, stderr)
		case "fleet":
			return runFleetChild(ctx, args[1:], getenv, stdin, stdout, stderr)
		case "run":
			args = args[1:]
		}
	}
	o, err := parseOptions(args, getenv, stderr)
	if err != nil {
		return err
	}
	return runBench(ctx, o, stdout, stderr)
}
