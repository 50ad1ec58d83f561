// Command pushfleet runs the whole fleet in one process: an embedded
// JetStream server (store ./data), the dispatcher, the APNs, FCM and MiPush
// senders and the feedback-sink, against local sandbox providers unless an
// apps file with real credentials is given. --demo N shows it end to end.
package main

import (
	"context"
	"io"
	"os"

	"github.com/pushfleet/pushfleet/internal/allinone"
	"github.com/pushfleet/pushfleet/internal/fleet"
)

func main() {
	fleet.Main("pushfleet", func(ctx context.Context) error {
		return run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	})
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := allinone.Parse(args, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	return allinone.Run(ctx, o)
}
