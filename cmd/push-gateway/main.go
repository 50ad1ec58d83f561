// Command push-gateway is pushfleet's HTTP way in: POST /v1/intents (native
// intents, one or a batch) and gorush's POST /api/push, each intent
// published on push.intents.<app> with Nats-Msg-Id "<app>:<id>", behind
// per-app API keys. /metrics, /healthz and /readyz (ready while NATS is
// connected) are on --http-addr as for every pushfleet binary; the API is
// on --gateway-addr. See docs/gateway.md.
//
//	push-gateway hash-key < key.txt   prints the SHA-256 the keys file stores
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/gateway"
)

const name = "push-gateway"

func main() {
	fleet.Main(name, func(ctx context.Context) error {
		return run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	})
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "hash-key" {
		return hashKey(stdin, stdout)
	}
	return fleet.RunCommand(ctx, name,
		"HTTP push gateway: POST /v1/intents and gorush's POST /api/push, published on push.intents.<app>",
		args, getenv, stderr, register)
}

func register(fs *flag.FlagSet) fleet.Build {
	// The gateway is a producer: its NATS user may publish intents and
	// nothing else, so it does not provision streams unless told to.
	if f := fs.Lookup("provision"); f != nil {
		f.DefValue = "false"
		_ = f.Value.Set("false")
		f.Usage = "create or update the JetStream streams at start (off: the gateway's NATS user may only publish on push.intents.*)"
	}
	var c gateway.Config
	c.Register(fs, gateway.DefaultAddr)
	return func(_ context.Context, env *fleet.Env) (fleet.Service, error) {
		return gateway.NewService(c, gateway.ProcessEnv{
			JS: env.JS, NC: env.NC, Metrics: env.Metrics, Health: env.Health,
			Logger: env.Logger, DrainTimeout: env.DrainTimeout,
		})
	}
}

// hashKey prints the hex SHA-256 of the API key read from stdin (its
// first line, without the line break), for the keys file.
func hashKey(stdin io.Reader, stdout io.Writer) error {
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		return err
	}
	key := strings.TrimRight(line, "\r\n")
	if key == "" {
		return fmt.Errorf("hash-key: no key on stdin")
	}
	_, err = fmt.Fprintln(stdout, gateway.HashKey(key))
	return err
}
