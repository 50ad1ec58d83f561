// Command pushctl is the operator and producer CLI: publish intents, follow
// feedback and dead letters, and look up token state.
//
//	pushctl send --app demo --platform apns --token 0123abcd --title Hi --body There
//	pushctl send --file intent.json        (or - for stdin)
//	pushctl tail [-f] [--dead] [--app A] [--platform P] [--outcome O] [--since D] [-n N]
//	pushctl device register --app A --platform P --token T [--alias U] [--tag T]...
//	pushctl device get|unregister --app A --platform P --token T
//	pushctl device list --app A --alias U | --tag T [--all]
//	pushctl dead list|show SEQ|replay|purge [--stage S] [--app A] [--reason R] [--since D]
//	pushctl cancel --app A ID
//	pushctl status --app A ID
//	pushctl confirm --app A [--platform P] ID TOKEN
//	pushctl completion bash|zsh
//
// Global flags (the NATS connection, -o) go before or after the command;
// flags and arguments go in any order. See usage for the exit codes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/version"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/registryapi"
)

// Exit codes.
const (
	exitOK       = 0
	exitError    = 1 // the server, the network or anything else failed
	exitUsage    = 2 // invalid input: unknown command or flag, missing or bad argument
	exitNotFound = 3 // what was asked for does not exist
)

const usageHead = `pushctl: publish push intents and inspect the fleet

usage: pushctl [global flags] COMMAND [flags] [arguments]
       (global flags, command flags and arguments go in any order)

commands:
`

const usageTail = `
global flags (every command; before or after the command):
%s  (--nats-url also falls back to NATS_URL, the nats CLI's variable)

exit codes:
  0  success (also: tail has shown every event it was asked for)
  1  server, network or other error
  2  invalid input: unknown command or flag, missing or malformed argument
  3  not found: no such device record, scheduled intent or dead letter

"pushctl COMMAND -h" lists a command's own flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	code := exitCode(err)
	if code != exitOK {
		fmt.Fprintln(os.Stderr, "pushctl:", err)
	}
	os.Exit(code)
}

// usageError marks invalid input (exit 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns an invalid-input error (exit 2).
func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// errNotFound marks a lookup of something that does not exist (exit 3).
var errNotFound = errors.New("not found")

// exitCode maps an error to pushctl's exit code.
func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue), errors.Is(err, config.ErrInvalid), errors.Is(err, events.ErrInvalid),
		errors.Is(err, events.ErrMalformed), errors.Is(err, registryapi.ErrBadRequest):
		return exitUsage
	case errors.Is(err, errNotFound), errors.Is(err, errNotScheduled), errors.Is(err, registryapi.ErrNotFound),
		errors.Is(err, jetstream.ErrMsgNotFound):
		return exitNotFound
	}
	return exitError
}

// cli is one invocation's environment.
type cli struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer

	// The global flags.
	common config.Common // only its NATS connection fields are used
	output string
}

// json reports -o json.
func (c *cli) json() bool { return c.output == "json" }

// command is one pushctl command (or one verb of device or dead).
type command struct {
	name    string // "send", "device get"
	args    string // synopsis of its flags and arguments
	summary string
	// minArgs and maxArgs bound its positional arguments.
	minArgs, maxArgs int
	// setup registers the command's own flags and returns what runs it.
	setup func(c *cli, fs *flag.FlagSet) func(ctx context.Context, args []string) error
}

// commands lists every command, in the order of the help.
func commands() []*command {
	var out []*command
	out = append(out, sendCommand(), tailCommand(), cancelCommand(), statusCommand(), confirmCommand())
	out = append(out, deviceCommands()...)
	out = append(out, deadCommands()...)
	return append(out, provisionCommand(), completionCommand())
}

// groups are the commands that take a verb.
var groups = []string{"device", "dead"}

// globalFlag are the global flags, for completion and the help.
func (c *cli) registerGlobals(fs *flag.FlagSet) {
	fs.StringVar(&c.common.NATSURL, "nats-url", nats.DefaultURL, "NATS server URL(s), comma-separated")
	fs.StringVar(&c.common.NATSCreds, "nats-creds", "", "NATS credentials file (JWT + nkey seed)")
	fs.StringVar(&c.common.NATSUser, "nats-user", "", "NATS user name")
	fs.StringVar(&c.common.NATSPassword, "nats-password", "", "NATS password")
	fs.StringVar(&c.common.NATSNKey, "nats-nkey", "", "NATS nkey seed file")
	fs.StringVar(&c.common.NATSCA, "nats-ca", "", "CA certificate file to verify the NATS server")
	fs.StringVar(&c.common.NATSCert, "nats-cert", "", "client certificate file for mutual TLS with NATS")
	fs.StringVar(&c.common.NATSKey, "nats-key", "", "client key file for mutual TLS with NATS")
	fs.StringVar(&c.output, "o", "text", "output format: text or json")
	fs.StringVar(&c.output, "output", "text", "output format: text or json (same as -o)")
}

// globalNames lists the global flags.
func globalNames() []string {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	(&cli{}).registerGlobals(fs)
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := &cli{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if slices.ContainsFunc(args, config.IsVersionArg) {
		fmt.Fprintln(stdout, version.Get().String("pushctl"))
		return nil
	}
	cmds := commands()
	globals := flag.NewFlagSet("pushctl", flag.ContinueOnError)
	(&cli{}).registerGlobals(globals)
	// The command is the first argument that is neither a global flag nor
	// its value; the global flags before it go to the command's flag set.
	pre, name, rest, err := splitAt(args, globals)
	if err != nil {
		fmt.Fprint(stderr, c.usage(cmds))
		return err
	}
	switch name {
	case "", "help":
		if name == "help" && len(rest) > 0 {
			// pushctl help COMMAND: that command's help.
			return run(ctx, append(rest, "-h"), getenv, stdin, stdout, stderr)
		}
		if name == "" && !slices.ContainsFunc(pre, isHelp) {
			fmt.Fprint(stderr, c.usage(cmds))
			return usagef("a command is required")
		}
		fmt.Fprint(stdout, c.usage(cmds))
		return nil
	}
	full := name
	if slices.Contains(groups, name) {
		// The verb is the first argument after the group that is not a
		// flag or a flag's value, of any of the group's verbs.
		verbFlags := flag.NewFlagSet("", flag.ContinueOnError)
		(&cli{}).registerGlobals(verbFlags)
		for _, cmd := range cmds {
			if g, _, _ := strings.Cut(cmd.name, " "); g == name {
				fs := flag.NewFlagSet("", flag.ContinueOnError)
				cmd.setup(&cli{}, fs)
				fs.VisitAll(func(f *flag.Flag) {
					if verbFlags.Lookup(f.Name) == nil {
						verbFlags.Var(f.Value, f.Name, f.Usage)
					}
				})
			}
		}
		pre2, verb, rest2, err := splitAt(rest, verbFlags)
		if err != nil {
			fmt.Fprint(stderr, c.groupUsage(cmds, name))
			return err
		}
		if verb == "" {
			if slices.ContainsFunc(pre2, isHelp) {
				fmt.Fprint(stdout, c.groupUsage(cmds, name))
				return nil
			}
			fmt.Fprint(stderr, c.groupUsage(cmds, name))
			return usagef("%s: a verb is required", name)
		}
		full, rest = name+" "+verb, append(pre2, rest2...)
	}
	i := slices.IndexFunc(cmds, func(cmd *command) bool { return cmd.name == full })
	if i < 0 {
		if g, v, ok := strings.Cut(full, " "); ok {
			fmt.Fprint(stderr, c.groupUsage(cmds, g))
			return usagef("%s: unknown verb %q", g, v)
		}
		return usagef("unknown command %q (pushctl -h lists the commands)", full)
	}
	return c.runCommand(ctx, cmds[i], append(pre, rest...))
}

func isHelp(a string) bool { return a == "-h" || a == "--help" || a == "-help" }

// runCommand parses a command's flags (global ones included) and
// arguments, in any order, and runs it.
func (c *cli) runCommand(ctx context.Context, cmd *command, args []string) error {
	fs := flag.NewFlagSet("pushctl "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	runFn := cmd.setup(c, fs)
	own := flag.NewFlagSet("", flag.ContinueOnError)
	fs.VisitAll(func(f *flag.Flag) { own.Var(f.Value, f.Name, f.Usage) })
	c.registerGlobals(fs)
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(c.stdout, commandUsage(cmd, own))
		return nil
	}
	if err != nil {
		fmt.Fprint(c.stderr, commandUsage(cmd, own))
		return &usageError{fmt.Errorf("%s: %w", cmd.name, err)}
	}
	if err := c.globalsFromEnv(fs); err != nil {
		return err
	}
	if c.output != "text" && c.output != "json" {
		return usagef("-o %q: want text or json", c.output)
	}
	if len(pos) < cmd.minArgs || len(pos) > cmd.maxArgs {
		fmt.Fprint(c.stderr, commandUsage(cmd, own))
		switch {
		case cmd.maxArgs == 0:
			return usagef("%s takes no arguments, got %q", cmd.name, pos)
		case len(pos) > cmd.maxArgs:
			return usagef("%s: unexpected arguments %q", cmd.name, pos[cmd.maxArgs:])
		}
		return usagef("usage: pushctl %s %s", cmd.name, cmd.args)
	}
	return runFn(ctx, pos)
}

// globalsFromEnv fills the global flags not given from their environment
// variables (PUSHFLEET_NATS_URL, ...). A command's own flags are never
// read from the environment: a stray PUSHFLEET_ALL must not purge.
func (c *cli) globalsFromEnv(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["o"] || set["output"] {
		set["o"], set["output"] = true, true
	}
	for _, name := range globalNames() {
		if set[name] || name == "o" {
			continue
		}
		v := c.getenv(config.EnvName(name))
		if v == "" && name == "nats-url" {
			// The nats CLI's variable: exporting it for pushctl leaves the
			// all-in-one (which reads PUSHFLEET_NATS_URL) alone.
			v = c.getenv("NATS_URL")
		}
		if v != "" {
			if err := fs.Set(name, v); err != nil {
				return usagef("%s=%q: %v", config.EnvName(name), v, err)
			}
		}
	}
	return nil
}

// parseInterspersed parses flags before, between and after positional
// arguments, which the flag package alone stops at; "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// splitAt finds the first argument that is neither a flag of fs nor a
// flag's value: it returns the arguments before it, it and those after.
// An unknown flag before it is an error.
func splitAt(args []string, fs *flag.FlagSet) (before []string, word string, after []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if i+1 < len(args) {
				return args[:i], args[i+1], args[i+2:], nil
			}
			return args[:i], "", nil, nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			return args[:i], a, args[i+1:], nil
		}
		if isHelp(a) {
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(name)
		if f == nil {
			return nil, "", nil, usagef("unknown flag %s", a)
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !hasValue && !(ok && b.IsBoolFlag()) {
			i++ // its value
		}
	}
	return args, "", nil, nil
}

// usage is pushctl's help.
func (c *cli) usage(cmds []*command) string {
	var b strings.Builder
	b.WriteString(usageHead)
	for _, cmd := range cmds {
		fmt.Fprintf(&b, "  %-18s %s\n", cmd.name, cmd.summary)
	}
	globals := flag.NewFlagSet("", flag.ContinueOnError)
	(&cli{}).registerGlobals(globals)
	fmt.Fprintf(&b, usageTail, flagHelp(globals, true))
	return b.String()
}

// groupUsage is the help of device or dead.
func (c *cli) groupUsage(cmds []*command, group string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: pushctl %s VERB [flags]\n\nverbs:\n", group)
	for _, cmd := range cmds {
		if strings.HasPrefix(cmd.name, group+" ") {
			fmt.Fprintf(&b, "  %-18s %s\n", cmd.name, cmd.summary)
		}
	}
	fmt.Fprintf(&b, "\n\"pushctl %s VERB -h\" lists a verb's flags.\n", group)
	return b.String()
}

// commandUsage is a command's help: its own flags, then the global ones.
func commandUsage(cmd *command, own *flag.FlagSet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: pushctl %s %s\n\n%s\n", cmd.name, cmd.args, cmd.summary)
	if h := flagHelp(own, false); h != "" {
		fmt.Fprintf(&b, "\nflags:\n%s", h)
	}
	b.WriteString("\nglobal flags: --nats-url (PUSHFLEET_NATS_URL or NATS_URL), --nats-creds, --nats-user, --nats-password, --nats-nkey,\n" +
		"  --nats-ca, --nats-cert, --nats-key (each also PUSHFLEET_<NAME>), -o text|json (\"pushctl -h\" for details)\n")
	return b.String()
}

// flagHelp lists fs's flags, with their environment variables when env.
func flagHelp(fs *flag.FlagSet, env bool) string {
	type line struct{ key, text string }
	var lines []line
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "output" {
			return // shown with -o
		}
		name := "--" + f.Name
		if f.Name == "o" {
			name = "-o, --output"
		}
		if len(f.Name) == 1 && f.Name != "o" {
			name = "-" + f.Name
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" && f.DefValue != "[]" {
			def = " (default " + f.DefValue + ")"
		}
		envName := ""
		if env && f.Name != "o" {
			envName = " [" + config.EnvName(f.Name) + "]"
		}
		lines = append(lines, line{f.Name, fmt.Sprintf("  %s%s%s\n      %s\n", name, envName, def, f.Usage)})
	})
	sort.Slice(lines, func(i, j int) bool { return lines[i].key < lines[j].key })
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.text)
	}
	return b.String()
}

// connect dials NATS with the global flags. A one-shot command gives up
// after two reconnect attempts; follow keeps reconnecting forever.
func (c *cli) connect(follow bool) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := c.dial("pushctl", follow)
	if err != nil {
		return nil, nil, err
	}
	js, err := fleet.NewJetStream(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// dial connects as name (connection name and inbox prefix).
func (c *cli) dial(name string, follow bool) (*nats.Conn, error) {
	switch {
	case (c.common.NATSCert == "") != (c.common.NATSKey == ""):
		return nil, usagef("--nats-cert and --nats-key go together")
	case c.common.NATSUser != "" && c.common.NATSPassword == "":
		return nil, usagef("--nats-user needs --nats-password")
	}
	c.common.LogLevel = "warn"
	opts, err := c.common.NATSOptions(name, c.common.Logger(c.stderr, "pushctl"))
	if err != nil {
		return nil, &usageError{err}
	}
	if !follow {
		opts = append(opts, nats.MaxReconnects(2))
	}
	nc, _, err := fleet.Connect(c.common.NATSURL, opts...)
	if err != nil {
		return nil, err
	}
	return nc, nil
}

// requireApp refuses a missing or malformed --app: there is no default app.
func requireApp(cmd, app string) error {
	if app == "" {
		return usagef("%s: --app is required (there is no default app)", cmd)
	}
	return checkApp(cmd, app)
}

// checkApp refuses an --app that cannot be an app name.
func checkApp(cmd, app string) error {
	if app != "" && !events.ValidApp(app) {
		return usagef("%s: --app %q: must be 1-64 characters of A-Z a-z 0-9 _ -", cmd, app)
	}
	return nil
}
