package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/embedded"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// --max-attempts reaches the consumer runners of a standalone binary: flag
// → config.Common → RunProcess's Env → runner. A message whose handler asks
// for a retry every time is dead-lettered at the third delivery.
func TestMaxAttemptsReachesStandaloneRunners(t *testing.T) {
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv)
	var calls atomic.Int32
	retry := consumer.HandlerFunc(func(context.Context, jetstream.Msg) consumer.Verdict {
		calls.Add(1)
		return consumer.RetryAfter(0, "provider", "503")
	})
	runners := make(chan *consumer.Runner, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	args := []string{"--nats-url", srv.ClientURL(), "--http-addr", "127.0.0.1:0", "--log-level", "error", "--max-attempts", "3"}
	go func() {
		done <- RunCommand(ctx, "test-service", "test", args, func(string) string { return "" }, io.Discard,
			func(*flag.FlagSet) Build {
				return func(_ context.Context, env *Env) (Service, error) {
					r, err := env.runner("test", consumer.Config{
						Stream: events.StreamIntents, Durable: "test", Stage: events.StageIntents,
						BackoffBase: 10 * time.Millisecond, BackoffMax: 20 * time.Millisecond,
					}, retry)
					runners <- r
					return r, err
				}
			})
		close(done)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunCommand: %v", err)
		}
	}()
	var r *consumer.Runner
	select {
	case r = <-runners:
	case err := <-done:
		t.Fatalf("RunCommand ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("service not built in 10s")
	}
	natstest.Eventually(t, 10*time.Second, r.Ready, "runner ready")
	if _, err := js.Publish(context.Background(), events.IntentSubject("app1"), []byte(`{"id":"x"}`)); err != nil {
		t.Fatal(err)
	}
	var d events.DeadLetter
	natstest.Eventually(t, 10*time.Second, func() bool {
		s, err := js.Stream(context.Background(), events.StreamDead)
		if err != nil {
			return false
		}
		m, err := s.GetLastMsgForSubject(context.Background(), events.DeadRoot+".>")
		return err == nil && json.Unmarshal(m.Data, &d) == nil
	}, "dead letter")
	if d.Attempts != 3 || calls.Load() != 3 {
		t.Fatalf("dead-lettered after %d attempts (%d handler calls), want 3", d.Attempts, calls.Load())
	}
}

// One life for every kind of process: with an embedded server the
// connection has the same options as with an external one (the async error
// handler, the per-process inbox prefix), the streams are provisioned,
// Foreground runs beside the services and stops the process when it
// returns, and the cleanups run once the services have stopped.
func TestProcessEmbeddedLife(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		t.Run(fmt.Sprintf("tcp=%v", tcp), func(t *testing.T) {
			var stopped atomic.Bool
			var order []string
			p := Process{Name: "life", Stderr: io.Discard, EmbeddedTCP: tcp,
				Embedded: &embedded.Config{StoreDir: t.TempDir(), Listen: "127.0.0.1:-1"}}
			p.Config.HTTPAddr, p.Config.LogLevel = "127.0.0.1:0", "error"
			p.Build = func(_ context.Context, env *Env) (Service, error) {
				env.Cleanup(func() { order = append(order, "first registered") })
				env.Cleanup(func() { order = append(order, "last registered") })
				return serviceFunc(func(ctx context.Context) error {
					<-ctx.Done()
					stopped.Store(true)
					return nil
				}), nil
			}
			p.Foreground = func(ctx context.Context, env *Env) error {
				if env.NC.Opts.AsyncErrorCB == nil {
					t.Error("no NATS async error handler")
				}
				if got, want := env.NC.Opts.InboxPrefix, config.InboxPrefix("life"); got != want {
					t.Errorf("inbox prefix %q, want %q", got, want)
				}
				if env.NATSURL == "" {
					t.Error("the embedded server's listener is not reported")
				}
				if b := env.Built(); b.Streams == nil {
					t.Error("streams not provisioned")
				}
				if _, err := env.JS.Stream(ctx, events.StreamIntents); err != nil {
					t.Errorf("stream %s: %v", events.StreamIntents, err)
				}
				nc, _, err := env.Dial()
				if err != nil {
					t.Errorf("dial: %v", err)
				} else {
					nc.Close()
				}
				if stopped.Load() {
					t.Error("services stopped before Foreground returned")
				}
				return errDone
			}
			if err := p.Run(context.Background()); !errors.Is(err, errDone) {
				t.Fatalf("Run = %v, want Foreground's error", err)
			}
			if !stopped.Load() {
				t.Fatal("services not stopped when Foreground returned")
			}
			if len(order) != 2 || order[0] != "last registered" {
				t.Fatalf("cleanups ran %v, want the last registered first", order)
			}
		})
	}
}

var errDone = errors.New("done")

type serviceFunc func(ctx context.Context) error

func (f serviceFunc) Run(ctx context.Context) error { return f(ctx) }

// A setting no component could use stops the process before it connects,
// with an error wrapping config.ErrInvalid.
func TestProcessRefusesInvalidSettings(t *testing.T) {
	p := Process{Name: "bad", Stderr: io.Discard, Build: func(context.Context, *Env) (Service, error) {
		t.Fatal("built despite invalid settings")
		return nil, nil
	}}
	p.Config.NATSURL, p.Config.HTTPAddr, p.Config.LogLevel = "nats://127.0.0.1:1", "127.0.0.1:0", "info"
	p.Config.Streams.Replicas = 9
	if err := p.Run(context.Background()); !errors.Is(err, config.ErrInvalid) {
		t.Fatalf("Run = %v, want an error wrapping config.ErrInvalid", err)
	}
}
