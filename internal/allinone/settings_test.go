package allinone

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/providers"
	"github.com/pushfleet/pushfleet/internal/sandbox/sandboxtest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// settings are the values one process of TestSettingsReachEveryComponent
// is given, distinct per process, so that what the server holds after the
// process ran is that process's doing.
type settings struct {
	maxAttempts           int
	ackWait, drain, dedup time.Duration
	feedbackAge, deadAge  time.Duration
	replicas              int
	dispatcherInFlight    int
	batchAPNs, batchFCM   int
	batchMi, maxTokens    int
	horizon               time.Duration
	senderInFlight        int
	senderTokens          int
	requestTimeout        time.Duration
	sinkInFlight          int
	successFlush          time.Duration
	confirmInFlight       int
}

func settingsFor(i, replicas int) settings {
	d := time.Duration(i) * time.Second
	return settings{
		maxAttempts: 3 + i, ackWait: 40*time.Second + d, drain: 7*time.Second + d, dedup: 3*time.Minute + d,
		feedbackAge: 100*time.Hour + d, deadAge: 200*time.Hour + d, replicas: replicas,
		dispatcherInFlight: 11 + i, batchAPNs: 50 + i, batchFCM: 250 + i, batchMi: 700 + i, maxTokens: 123 + i,
		horizon: 48*time.Hour + d, senderInFlight: 13 + i, senderTokens: 777 + i, requestTimeout: 17*time.Second + d,
		sinkInFlight: 15 + i, successFlush: 3*time.Second + d, confirmInFlight: 17 + i,
	}
}

// shared are the flags every binary has (config.Common.RegisterShared).
func (s settings) shared() map[string]string {
	return map[string]string{
		"max-attempts": fmt.Sprint(s.maxAttempts), "ack-wait": s.ackWait.String(), "drain-timeout": s.drain.String(),
		"dedup-window": s.dedup.String(), "feedback-retention": s.feedbackAge.String(), "dead-retention": s.deadAge.String(),
		"stream-replicas": fmt.Sprint(s.replicas),
	}
}

func (s settings) dispatcher() map[string]string {
	return map[string]string{
		"dispatcher-in-flight": fmt.Sprint(s.dispatcherInFlight), "batch-apns": fmt.Sprint(s.batchAPNs),
		"batch-fcm": fmt.Sprint(s.batchFCM), "batch-mi": fmt.Sprint(s.batchMi), "max-tokens": fmt.Sprint(s.maxTokens),
		"schedule-horizon": s.horizon.String(),
	}
}

func (s settings) sender() map[string]string {
	return map[string]string{
		"sender-in-flight": fmt.Sprint(s.senderInFlight), "sender-tokens-in-flight": fmt.Sprint(s.senderTokens),
		"request-timeout": s.requestTimeout.String(),
	}
}

func (s settings) sink() map[string]string {
	return map[string]string{"sink-in-flight": fmt.Sprint(s.sinkInFlight), "success-flush": s.successFlush.String()}
}

func (s settings) confirm() map[string]string {
	return map[string]string{"confirm-in-flight": fmt.Sprint(s.confirmInFlight)}
}

// given passes flags on the command line, or (env) through their
// environment twins, as on Kubernetes.
func given(env bool, groups ...map[string]string) (args []string, getenv func(string) string) {
	vars := map[string]string{}
	for _, g := range groups {
		for k, v := range g {
			if env {
				vars[config.EnvName(k)] = v
			} else {
				args = append(args, "--"+k+"="+v)
			}
		}
	}
	return args, func(k string) string { return vars[k] }
}

// runStandalone runs a service binary's command (its flags and services,
// as its main registers them) through fleet.RunCommand until the test ends,
// and returns its environment once every consumer is bound.
func runStandalone(t *testing.T, name string, register func(*flag.FlagSet) fleet.Build, args []string, getenv func(string) string) *fleet.Env {
	t.Helper()
	envs := make(chan *fleet.Env, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- fleet.RunCommand(ctx, name, "test", args, getenv, io.Discard, func(fs *flag.FlagSet) fleet.Build {
			build := register(fs)
			return func(ctx context.Context, env *fleet.Env) (fleet.Service, error) {
				svc, err := build(ctx, env)
				envs <- env
				return svc, err
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: %v", name, err)
		}
	})
	select {
	case env := <-envs:
		waitReady(t, env)
		return env
	case err := <-done:
		done <- err
		t.Fatalf("%s ended before its services were built: %v", name, err)
	case <-time.After(60 * time.Second):
		t.Fatalf("%s: services not built in 60s", name)
	}
	return nil
}

// waitReady waits until the process's /readyz answers 200: every consumer
// bound, every cache loaded.
func waitReady(t *testing.T, env *fleet.Env) {
	t.Helper()
	natstest.Eventually(t, 60*time.Second, func() bool {
		resp, err := http.Get(env.Health.URL() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, "process ready")
}

// runAllInOne parses args as cmd/pushfleet does and runs the all-in-one
// until the test ends; it returns its environment once the services run.
func runAllInOne(t *testing.T, args []string, getenv func(string) string) *fleet.Env {
	t.Helper()
	o, err := Parse(args, getenv, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	envs := make(chan *fleet.Env, 1)
	o.started = func(env *fleet.Env) { envs <- env }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("all-in-one: %v", err)
		}
	})
	select {
	case env := <-envs:
		waitReady(t, env)
		return env
	case err := <-done:
		done <- err
		t.Fatalf("all-in-one ended before its services ran: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("all-in-one: services not running in 60s")
	}
	return nil
}

// checkProcess checks that what env built, and what the server holds
// after it, carry the settings s: every consumer runner, sender,
// dispatcher, sink and stream that uses one. consumers are the runners the
// process must have built.
func checkProcess(t *testing.T, js jetstream.JetStream, env *fleet.Env, s settings, consumers []string) {
	t.Helper()
	b := env.Built()
	ctx := context.Background()

	// The streams: the configuration provisioned, then the server's.
	if b.Streams == nil {
		t.Fatal("streams not provisioned")
	}
	want := streams.Config{Replicas: s.replicas, DedupWindow: s.dedup, FeedbackMaxAge: s.feedbackAge, DeadMaxAge: s.deadAge}
	if got := *b.Streams; got != want {
		t.Errorf("streams provisioned with %+v, want %+v", got, want)
	}
	for _, sc := range streams.StreamConfigs(want) {
		st, err := js.Stream(ctx, sc.Name)
		if err != nil {
			t.Errorf("stream %s: %v", sc.Name, err)
			continue
		}
		got := st.CachedInfo().Config
		if got.Replicas != s.replicas {
			t.Errorf("stream %s: %d replicas, want %d (--stream-replicas)", sc.Name, got.Replicas, s.replicas)
		}
		if sc.Retention == jetstream.WorkQueuePolicy && got.Duplicates != s.dedup {
			t.Errorf("stream %s: dedup window %v, want %v (--dedup-window)", sc.Name, got.Duplicates, s.dedup)
		}
		switch sc.Name {
		case events.StreamFeedback:
			if got.MaxAge != s.feedbackAge {
				t.Errorf("stream %s: max age %v, want %v (--feedback-retention)", sc.Name, got.MaxAge, s.feedbackAge)
			}
		case events.StreamDead:
			if got.MaxAge != s.deadAge {
				t.Errorf("stream %s: max age %v, want %v (--dead-retention)", sc.Name, got.MaxAge, s.deadAge)
			}
		case "KV_" + events.IntentIDsBucket:
			if got.MaxAge != s.dedup {
				t.Errorf("bucket %s: max age %v, want %v (--dedup-window)", events.IntentIDsBucket, got.MaxAge, s.dedup)
			}
		}
	}

	// Every consumer runner: what it runs with, and the server's consumer.
	for _, name := range consumers {
		c, ok := b.Consumers[name]
		if !ok {
			t.Errorf("consumer runner %s not built (built: %v)", name, keys(b.Consumers))
			continue
		}
		if c.MaxAttempts != s.maxAttempts || c.AckWait != s.ackWait || c.DrainTimeout != s.drain {
			t.Errorf("runner %s: max attempts %d, ack wait %v, drain timeout %v; want %d, %v, %v (--max-attempts, --ack-wait, --drain-timeout)",
				name, c.MaxAttempts, c.AckWait, c.DrainTimeout, s.maxAttempts, s.ackWait, s.drain)
		}
		var inFlight int
		switch {
		case strings.HasPrefix(name, "dispatcher"):
			inFlight = s.dispatcherInFlight
		case name == events.DurableFeedbackSink:
			inFlight = s.sinkInFlight
		case strings.HasPrefix(name, events.DurableConfirm):
			inFlight = s.confirmInFlight
		default:
			inFlight = s.senderInFlight
		}
		if c.MaxInFlight != inFlight {
			t.Errorf("runner %s: %d in flight, want %d", name, c.MaxInFlight, inFlight)
		}
		natstest.Eventually(t, 30*time.Second, func() bool {
			cons, err := js.Consumer(ctx, c.Stream, c.Durable)
			if err != nil {
				return false
			}
			info, err := cons.Info(ctx)
			return err == nil && info.Config.AckWait == s.ackWait
		}, "consumer %s/%s on the server with ack wait %v (--ack-wait)", c.Stream, c.Durable, s.ackWait)
	}
	if len(b.Consumers) != len(consumers) {
		t.Errorf("runners built: %v, want %v", keys(b.Consumers), consumers)
	}

	// The services' own settings.
	for p, sc := range b.Senders {
		if sc.MaxAttempts != s.maxAttempts || sc.RequestTimeout != s.requestTimeout || sc.MaxTokensInFlight != s.senderTokens {
			t.Errorf("%s sender: max attempts %d, request timeout %v, tokens in flight %d; want %d, %v, %d",
				p, sc.MaxAttempts, sc.RequestTimeout, sc.MaxTokensInFlight, s.maxAttempts, s.requestTimeout, s.senderTokens)
		}
	}
	if d := b.Dispatcher; d != nil {
		if d.BatchAPNs != s.batchAPNs || d.BatchFCM != s.batchFCM || d.BatchMi != s.batchMi ||
			d.Limits.MaxTokens != s.maxTokens || d.ScheduleHorizon != s.horizon {
			t.Errorf("dispatcher: batches %d/%d/%d, max tokens %d, horizon %v; want %d/%d/%d, %d, %v",
				d.BatchAPNs, d.BatchFCM, d.BatchMi, d.Limits.MaxTokens, d.ScheduleHorizon,
				s.batchAPNs, s.batchFCM, s.batchMi, s.maxTokens, s.horizon)
		}
	}
	if sk := b.Sink; sk != nil && sk.FlushInterval != s.successFlush {
		t.Errorf("sink: flush interval %v, want %v (--success-flush)", sk.FlushInterval, s.successFlush)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func senderConsumers(p events.Platform) []string {
	return []string{events.SenderDurable(p), events.SenderDurable(p) + "-retries"}
}

// Every shared flag (--max-attempts, --ack-wait, --drain-timeout,
// --dedup-window, the retentions, --stream-replicas) and every service
// flag the all-in-one shares with a binary reaches each component that
// uses it: in each standalone binary (its command through
// fleet.RunCommand) and in the all-in-one (parsed as cmd/pushfleet does),
// with an external three-node cluster (R3 streams). Asserted on the
// configurations the runners, senders, dispatcher and sink run with and
// on the streams and consumers the server holds, never on logs.
func TestSettingsReachEveryComponent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	cl := natstest.StartCluster(t, 3)
	url := cl.URLs(0)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	fakes := sandboxtest.Start(t)
	dir := t.TempDir()
	apps := sandboxtest.AppsFile(t, fakes, dir)
	base := map[string]string{"nats-url": url, "http-addr": "127.0.0.1:0", "log-level": "error"}
	withApps := func(args []string) []string { return append(args, "--apps-file="+apps) }

	type process struct {
		name      string
		register  func(*flag.FlagSet) fleet.Build
		own       func(settings) map[string]string
		extra     []string
		consumers []string
	}
	procs := []process{
		{"dispatcher", fleet.DispatcherCommand, settings.dispatcher, withApps(nil),
			[]string{events.DurableDispatcher, events.DurableDispatcher + "-schedules"}},
		{"feedback-sink", fleet.FeedbackSinkCommand, settings.sink, nil, []string{events.DurableFeedbackSink}},
		{"apns-sender", providers.SenderCommand(&providers.APNsFlags{}), settings.sender,
			sandboxtest.SenderArgs(t, fakes, events.APNs, dir, apps), senderConsumers(events.APNs)},
		{"gcm-sender", providers.SenderCommand(&providers.FCMFlags{}), settings.sender,
			sandboxtest.SenderArgs(t, fakes, events.FCM, dir, apps), senderConsumers(events.FCM)},
		{"mi-sender", providers.SenderCommand(&providers.MiFlags{}), settings.sender,
			sandboxtest.SenderArgs(t, fakes, events.Mi, dir, apps), senderConsumers(events.Mi)},
		{"hms-sender", providers.SenderCommand(&providers.HMSFlags{}), settings.sender,
			sandboxtest.SenderArgs(t, fakes, events.HMS, dir, apps), senderConsumers(events.HMS)},
		{"webpush-sender", providers.SenderCommand(&providers.WebPushFlags{}), settings.sender,
			sandboxtest.SenderArgs(t, fakes, events.WebPush, dir, apps), senderConsumers(events.WebPush)},
	}
	for i, p := range procs {
		t.Run(p.name, func(t *testing.T) {
			s := settingsFor(i, 3)
			// Half the binaries take their settings from the environment.
			args, getenv := given(i%2 == 1, base, s.shared(), p.own(s))
			env := runStandalone(t, p.name, p.register, append(args, p.extra...), getenv)
			checkProcess(t, js, env, s, p.consumers)
		})
	}

	every := []string{events.DurableDispatcher, events.DurableDispatcher + "-schedules", events.DurableFeedbackSink,
		events.DurableConfirm, events.DurableConfirm + "-timers", events.DurableConfirm + "-feedback"}
	for _, p := range events.Platforms {
		every = append(every, senderConsumers(p)...)
	}
	t.Run("all-in-one", func(t *testing.T) {
		s := settingsFor(len(procs), 3)
		// No apps file: the sandbox providers.
		args, getenv := given(false, base, s.shared(), s.dispatcher(), s.sender(), s.sink(), s.confirm())
		env := runAllInOne(t, args, getenv)
		checkProcess(t, js, env, s, every)
	})
}

// The all-in-one with its embedded server: the same settings reach the
// same components (one replica: the server is alone).
func TestSettingsReachEmbeddedAllInOne(t *testing.T) {
	s := settingsFor(0, 1)
	args, getenv := given(true, map[string]string{"http-addr": "127.0.0.1:0", "log-level": "error", "data": t.TempDir(), "listen": "127.0.0.1:-1"},
		s.shared(), s.dispatcher(), s.sender(), s.sink(), s.confirm())
	env := runAllInOne(t, args, getenv)
	// The connection has a service's options: the embedded server is no
	// reason to drop asynchronous errors or share the default inbox.
	if env.NC.Opts.AsyncErrorCB == nil || env.NC.Opts.InboxPrefix != config.InboxPrefix("pushfleet") {
		t.Errorf("all-in-one connection: async error handler set %v, inbox prefix %q",
			env.NC.Opts.AsyncErrorCB != nil, env.NC.Opts.InboxPrefix)
	}
	if env.NATSURL == "" {
		t.Fatal("the embedded server's listener is not reported")
	}
	nc, err := nats.Connect(env.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	every := []string{events.DurableDispatcher, events.DurableDispatcher + "-schedules", events.DurableFeedbackSink,
		events.DurableConfirm, events.DurableConfirm + "-timers", events.DurableConfirm + "-feedback"}
	for _, p := range events.Platforms {
		every = append(every, senderConsumers(p)...)
	}
	checkProcess(t, js, env, s, every)
}
