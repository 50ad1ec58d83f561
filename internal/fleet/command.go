package fleet

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
	"github.com/pushfleet/pushfleet/internal/version"
)

// Main runs a binary until SIGINT or SIGTERM and exits non-zero if run
// fails (-h is not a failure). --version, as the first argument or as a
// flag wherever config.Parse reads one, prints the version and exits 0.
func Main(name string, run func(ctx context.Context) error) {
	if len(os.Args) > 1 && config.IsVersionArg(os.Args[1]) {
		fmt.Println(version.Get().String(name))
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if errors.Is(err, config.ErrVersion) {
		fmt.Println(version.Get().String(name))
		return
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// DefaultHTTPAddr is the default --http-addr of a service binary.
const DefaultHTTPAddr = ":8080"

// RunCommand is the life of a service binary: the common flags plus the
// service's own (register adds them and returns how to build the service),
// each with its environment twin, then Process.Run.
func RunCommand(ctx context.Context, name, what string, args []string, getenv func(string) string, stderr io.Writer,
	register func(fs *flag.FlagSet) Build) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	p := Process{Name: name, Stderr: stderr}
	p.Config.Register(fs, DefaultHTTPAddr)
	p.Build = register(fs)
	fs.Usage = config.Usage(fs, name+": "+what)
	if err := config.Parse(fs, args, getenv); err != nil {
		return err
	}
	return p.Run(ctx)
}

// DispatcherCommand registers the dispatcher's flags and builds the
// dispatcher: cmd/dispatcher's part of RunCommand.
func DispatcherCommand(fs *flag.FlagSet) Build {
	var d config.Dispatcher
	d.Register(fs)
	return func(ctx context.Context, env *Env) (Service, error) { return env.Dispatcher(ctx, d) }
}

// FeedbackSinkCommand registers the feedback-sink's flags and builds it:
// cmd/feedback-sink's part of RunCommand.
func FeedbackSinkCommand(fs *flag.FlagSet) Build {
	var s config.Sink
	s.Register(fs)
	return func(ctx context.Context, env *Env) (Service, error) { return env.FeedbackSink(ctx, s) }
}
