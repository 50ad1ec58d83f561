package securitytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/providers"
	"github.com/pushfleet/pushfleet/internal/sandbox"
	"github.com/pushfleet/pushfleet/internal/sandbox/sandboxtest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

// confFile is the server configuration this package proves.
const confFile = "../../deploy/nats-server/pushfleet-auth.conf"

// users of confFile; each has its password in $<USER>_NATS_PASSWORD.
// registry-demo is the registry client of app demo (one user per app);
// webhook-sender is the sender of the custom channel "webhook", which this
// process does not declare (webhook_test.go runs it in a child process).
var users = []string{"admin", "dispatcher", "apns-sender", "gcm-sender", "mi-sender", "hms-sender", "webpush-sender", "feedback-sink",
	"confirm-service", "producer", "push-gateway", "registry-demo", "webhook-sender", "sys"}

// services are the service processes, each connecting as the user of its name.
var services = []string{"dispatcher", "apns-sender", "gcm-sender", "mi-sender", "hms-sender", "webpush-sender", "feedback-sink",
	"confirm-service"}

func passwordEnv(user string) string {
	return strings.ToUpper(strings.ReplaceAll(user, "-", "_")) + "_NATS_PASSWORD"
}

// authServer is nats-server running confFile, on a random loopback port with
// its store in a temp dir.
type authServer struct {
	srv       *server.Server
	opts      *server.Options
	passwords map[string]string
	log       *serverLog
}

// startAuthServer sets a fresh password per user in the environment (the
// admin's as a bcrypt hash, as the config recommends), loads confFile,
// lets mutate adjust the options (TLS, nkeys) and starts the server.
func startAuthServer(t *testing.T, mutate func(o *server.Options)) *authServer {
	t.Helper()
	as := &authServer{passwords: map[string]string{}, log: &serverLog{}}
	for _, u := range users {
		pw := randomHex(t, 16)
		as.passwords[u] = pw
		v := pw
		if u == "admin" {
			h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
			if err != nil {
				t.Fatal(err)
			}
			v = string(h)
		}
		// The server parses the variable's value as a config value: quoted,
		// it is a plain string (a bcrypt hash's '$' would start a reference).
		t.Setenv(passwordEnv(u), `"`+v+`"`)
	}
	opts, err := server.ProcessConfigFile(confFile)
	if err != nil {
		t.Fatalf("%s: %v", confFile, err)
	}
	opts.Host, opts.Port, opts.HTTPPort = "127.0.0.1", -1, 0
	opts.StoreDir = t.TempDir()
	opts.NoSigs = true
	if mutate != nil {
		mutate(opts)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.SetLoggerV2(as.log, false, false, false)
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready in 10s")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	as.srv, as.opts = s, opts
	return as
}

// url is the client URL (tls:// when the server requires TLS).
func (as *authServer) url() string {
	u := as.srv.ClientURL()
	if as.opts.TLSConfig != nil {
		u = strings.Replace(u, "nats://", "tls://", 1)
	}
	return u
}

// user returns the configured user named name.
func (as *authServer) user(t *testing.T, name string) *server.User {
	t.Helper()
	for _, u := range as.opts.Users {
		if u.Username == name {
			return u
		}
	}
	t.Fatalf("no user %q in %s", name, confFile)
	return nil
}

// serverLog keeps the server's error and warning lines.
type serverLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *serverLog) add(format string, v ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, v...))
	l.mu.Unlock()
}

func (l *serverLog) Noticef(string, ...any)         {}
func (l *serverLog) Debugf(string, ...any)          {}
func (l *serverLog) Tracef(string, ...any)          {}
func (l *serverLog) Warnf(format string, v ...any)  { l.add("[WRN] "+format, v...) }
func (l *serverLog) Errorf(format string, v ...any) { l.add("[ERR] "+format, v...) }
func (l *serverLog) Fatalf(format string, v ...any) { l.add("[FTL] "+format, v...) }
func (l *serverLog) violations() (out []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if strings.Contains(s, "Violation") {
			out = append(out, s)
		}
	}
	return out
}

// client is a connection as one user that records the asynchronous errors
// the server sends it (permission violations).
type client struct {
	nc *nats.Conn
	js jetstream.JetStream
	// logs is the connection's JSON log, when it was made by
	// config.Common.NATSOptions (connectCommon).
	logs *lockedBuffer

	mu   sync.Mutex
	errs []error
	seen chan struct{} // signalled on every async error
}

// connectAs connects with opts; an error handler among them still runs,
// before the client records the error.
func connectAs(t *testing.T, url string, opts ...nats.Option) *client {
	t.Helper()
	c := &client{seen: make(chan struct{}, 64)}
	var o nats.Options
	for _, opt := range opts {
		_ = opt(&o) // an invalid option fails the connect below
	}
	next := o.AsyncErrorCB
	opts = append(opts, nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
		if next != nil {
			next(nc, sub, err)
		}
		c.mu.Lock()
		c.errs = append(c.errs, err)
		c.mu.Unlock()
		select {
		case c.seen <- struct{}{}:
		default:
		}
	}))
	nc, js, err := fleet.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c.nc, c.js = nc, js
	return c
}

// connectCommon connects as the binary name does with the settings cc: with
// the options of config.Common.NATSOptions (the inbox prefix _INBOX_<name>,
// the error handler logging to c.logs).
func connectCommon(t *testing.T, name string, cc config.Common) *client {
	t.Helper()
	cc.LogLevel = "debug"
	logs := &lockedBuffer{}
	opts, err := cc.NATSOptions(name, cc.Logger(logs, name))
	if err != nil {
		t.Fatal(err)
	}
	c := connectAs(t, cc.NATSURL, opts...)
	c.logs = logs
	return c
}

// binaryOf is the binary a user's clients run as, whose name sets the inbox
// prefix the user may subscribe to: each service's is its own; the
// producer's is pushctl's (`pushctl send`), and so is the admin's; a
// registry client's (registry-<app>) is its own (its backend sets it).
func binaryOf(user string) string {
	switch user {
	case "producer", "admin":
		return "pushctl"
	}
	return user
}

// connect connects as user, the way its binary does (connectCommon); edit
// adjusts the settings (TLS files, an nkey instead of the password).
func (as *authServer) connect(t *testing.T, user string, edit ...func(c *config.Common)) *client {
	t.Helper()
	cc := config.Common{NATSURL: as.url(), NATSUser: user, NATSPassword: as.passwords[user]}
	for _, e := range edit {
		e(&cc)
	}
	return connectCommon(t, binaryOf(user), cc)
}

// violation reports whether the server refused this client subject (or,
// for a subject ending in ".>", any subject under it).
func (c *client) violation(subject string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	want := fmt.Sprintf("%q", subject)
	if prefix, ok := strings.CutSuffix(subject, ">"); ok {
		want = `"` + prefix
	}
	for _, err := range c.errs {
		if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), want) {
			return true
		}
	}
	return false
}

// denied runs op and requires the server to refuse subject to c: op must
// fail, and the server must report a permissions violation for subject.
// A refused request gets no answer, so op is cut short once it is reported.
func (c *client) denied(t *testing.T, subject string, op func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		for !c.violation(subject) {
			select {
			case <-ctx.Done():
				return
			case <-c.seen:
			case <-time.After(50 * time.Millisecond):
			}
		}
		cancel()
	}()
	err := op(ctx)
	<-ctx.Done()
	if !c.violation(subject) {
		t.Fatalf("no permissions violation for %q (op returned %v)", subject, err)
	}
	if err == nil {
		t.Fatalf("op on %q succeeded despite the violation", subject)
	}
}

// deniedSub subscribes to subject and requires the server to refuse it.
func (c *client) deniedSub(t *testing.T, subject string) {
	t.Helper()
	c.refusedSub(t, subject).Unsubscribe()
}

// refusedSub subscribes to subject, requires the server to refuse it and
// returns the (dead) subscription.
func (c *client) refusedSub(t *testing.T, subject string) *nats.Subscription {
	t.Helper()
	sub, err := c.nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	deadline := time.Now().Add(5 * time.Second)
	for !c.violation(subject) {
		if time.Now().After(deadline) {
			t.Fatalf("no permissions violation for a subscription to %q", subject)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return sub
}

// lockedBuffer is a process's stderr.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fleetRun is the five services running as their binaries do (flags and
// environment twins, RunProcess), each with its own NATS identity.
type fleetRun struct {
	logs   map[string]*lockedBuffer
	done   map[string]chan error
	cancel context.CancelFunc
}

// startFleet runs every service against url with --provision=false; auth
// returns a service's NATS settings as environment twins (user and password,
// nkey seed file, TLS files).
func startFleet(t *testing.T, url string, fakes *sandbox.Providers, auth func(service string) map[string]string) *fleetRun {
	t.Helper()
	dir := t.TempDir()
	apps := sandboxtest.AppsFile(t, fakes, dir)
	ctx, cancel := context.WithCancel(context.Background())
	fr := &fleetRun{logs: map[string]*lockedBuffer{}, done: map[string]chan error{}, cancel: cancel}
	for _, name := range services {
		env := map[string]string{
			"PUSHFLEET_NATS_URL": url, "PUSHFLEET_PROVISION": "false", "PUSHFLEET_HTTP_ADDR": "127.0.0.1:0",
			"PUSHFLEET_LOG_LEVEL": "debug", "PUSHFLEET_DRAIN_TIMEOUT": "5s", "PUSHFLEET_SUCCESS_FLUSH": "200ms",
		}
		for k, v := range auth(name) {
			env[k] = v
		}
		getenv := func(k string) string { return env[k] }
		logs := &lockedBuffer{}
		fr.logs[name], fr.done[name] = logs, make(chan error, 1)
		var run func() error
		switch name {
		case "dispatcher":
			run = func() error {
				return fleet.RunCommand(ctx, name, "dispatcher", nil, getenv, logs, func(fs *flag.FlagSet) fleet.Build {
					var d config.Dispatcher
					d.Register(fs)
					return func(ctx context.Context, env *fleet.Env) (fleet.Service, error) { return env.Dispatcher(ctx, d) }
				})
			}
		case "feedback-sink":
			run = func() error {
				return fleet.RunCommand(ctx, name, "feedback-sink", nil, getenv, logs, func(fs *flag.FlagSet) fleet.Build {
					var s config.Sink
					s.Register(fs)
					return func(ctx context.Context, env *fleet.Env) (fleet.Service, error) { return env.FeedbackSink(ctx, s) }
				})
			}
		case "confirm-service":
			run = func() error {
				return fleet.RunCommand(ctx, name, "confirm-service", nil, getenv, logs, fleet.ConfirmServiceCommand)
			}
		default:
			p := platformOf(name)
			args := sandboxtest.SenderArgs(t, fakes, p, dir, apps)
			var pf providers.Flags = &providers.APNsFlags{}
			switch p {
			case events.FCM:
				pf = &providers.FCMFlags{}
			case events.Mi:
				pf = &providers.MiFlags{}
			case events.HMS:
				pf = &providers.HMSFlags{}
			case events.WebPush:
				pf = &providers.WebPushFlags{}
			}
			run = func() error { return providers.RunSender(ctx, name, name, pf, args, getenv, logs) }
		}
		done := fr.done[name]
		go func() { done <- run() }()
	}
	t.Cleanup(func() {
		fr.stop(t)
		if t.Failed() {
			for _, name := range services {
				t.Logf("%s log:\n%s", name, tail(fr.logs[name].String(), 40))
			}
		}
	})
	return fr
}

func (fr *fleetRun) stop(t *testing.T) {
	fr.cancel()
	for name, done := range fr.done {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("%s did not stop within 20s", name)
		}
	}
}

// exited fails the test if a service stopped before it was told to.
func (fr *fleetRun) exited(t *testing.T) {
	t.Helper()
	for name, done := range fr.done {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("%s exited: %v\n%s", name, err, tail(fr.logs[name].String(), 40))
		default:
		}
	}
}

// allLogs is every service's log.
func (fr *fleetRun) allLogs() string {
	var b strings.Builder
	for _, name := range services {
		b.WriteString(fr.logs[name].String())
	}
	return b.String()
}

func platformOf(service string) events.Platform {
	for _, p := range events.Platforms {
		if events.SenderDurable(p) == service {
			return p
		}
	}
	return ""
}

// waitBound waits until every service has bound its durable consumers:
// the dispatcher on PUSH_INTENTS and on its PUSH_SCHEDULES, each sender on
// its PUSH_SEND_<P> and its PUSH_RETRY_<P>, the feedback-sink on
// PUSH_FEEDBACK, the confirmation service on PUSH_CONFIRM,
// PUSH_CONFIRM_TIMERS and PUSH_FEEDBACK.
func waitBound(t *testing.T, fr *fleetRun, js jetstream.JetStream) {
	t.Helper()
	type bound struct{ stream, durable string }
	want := []bound{
		{events.StreamIntents, events.DurableDispatcher}, {events.StreamSchedules, events.DurableDispatcher},
		{events.StreamFeedback, events.DurableFeedbackSink},
		{events.StreamConfirm, events.DurableConfirm}, {events.StreamConfirmTimers, events.DurableConfirm},
		{events.StreamFeedback, events.DurableConfirm},
	}
	for _, p := range events.Platforms {
		want = append(want, bound{events.SendStream(p), events.SenderDurable(p)}, bound{events.RetryStream(p), events.SenderDurable(p)})
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, b := range want {
		stream, durable := b.stream, b.durable
		for {
			fr.exited(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err := js.Consumer(ctx, stream, durable)
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("consumer %s/%s not bound in 30s: %v", stream, durable, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// deliverEverywhere publishes, as the producer, intents that exercise every
// path a service's permissions must allow, and waits until each is done:
// a live and an unregistered token per platform (jobs, feedback, token
// state), an APNs job whose first request fails (the sender re-queues the
// token as a schedule in its PUSH_RETRY_APNS), a send_at intent (published
// on push.intents.<app> like any other; the dispatcher makes the schedule).
//
// It returns every device token it pushed to, for checks on the logs.
func deliverEverywhere(t *testing.T, producer jetstream.JetStream, admin jetstream.JetStream, registry *nats.Conn, fakes *sandbox.Providers, fr *fleetRun) []events.Target {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pub := events.NewPublisher(producer)
	var live, dead []events.Target
	for i, p := range events.Platforms {
		live = append(live, events.Target{Platform: p, Token: fakes.Token(p, 100+i, false)})
		dead = append(dead, events.Target{Platform: p, Token: fakes.Token(p, 200+i, true)})
	}
	publish := func(in *events.Intent) {
		t.Helper()
		if _, err := pub.Publish(ctx, in); err != nil {
			t.Fatalf("producer publishes intent %s: %v", in.ID, err)
		}
	}
	intent := func(id string, tgs ...events.Target) *events.Intent {
		return &events.Intent{ID: id, App: sandbox.App, Targets: events.Targets{Tokens: tgs},
			Notification: events.Notification{Title: "secure", Body: id}}
	}
	publish(intent("sec-1", append(append([]events.Target{}, live...), dead...)...))
	waitUntil(t, fr, 30*time.Second, func() bool {
		for _, tg := range live {
			if fakes.Delivered(tg) == 0 {
				return false
			}
		}
		return true
	}, "a token delivered on every platform")

	// One APNs request fails: the job's other token is delivered and the
	// failed one re-queued on push.retry.apns.wait.<app>.<job hash>.
	retried := []events.Target{
		{Platform: events.APNs, Token: sandbox.Token(events.APNs, 300, false)},
		{Platform: events.APNs, Token: sandbox.Token(events.APNs, 301, false)},
	}
	fakes.APNs.FailNext(1, providertest.Unavailable, 0)
	publish(intent("sec-2", retried...))
	// send_at one second ahead: the producer publishes it on
	// push.intents.<app>, the dispatcher stores it as its own schedule on
	// push.schedules.<app>.<hash> and dispatches it from push.due.<app>.
	later := intent("sec-3", events.Target{Platform: events.FCM, Token: sandbox.Token(events.FCM, 400, false)})
	at := time.Now().Add(time.Second)
	later.SendAt = &at
	publish(later)
	waitUntil(t, fr, 30*time.Second, func() bool {
		return fakes.Delivered(retried[0]) > 0 && fakes.Delivered(retried[1]) > 0 && fakes.Delivered(later.Targets.Tokens[0]) > 0
	}, "the re-queued APNs token and the scheduled intent delivered")

	// Devices registered through the registry (served by the feedback-sink),
	// then targeted by alias and by tag: the dispatcher resolves them by
	// scanning the registry's index.
	aliased := events.Target{Platform: events.Mi, Token: sandbox.Token(events.Mi, 500, false)}
	tagged := events.Target{Platform: events.APNs, Token: sandbox.Token(events.APNs, 501, false)}
	for _, r := range []string{
		fmt.Sprintf(`{"app":%q,"platform":%q,"token":%q,"alias":"sec-user"}`, sandbox.App, aliased.Platform, aliased.Token),
		fmt.Sprintf(`{"app":%q,"platform":%q,"token":%q,"tags":["sec-tag"]}`, sandbox.App, tagged.Platform, tagged.Token),
	} {
		resp, err := registry.Request("push.registry.register."+sandbox.App, []byte(r), 10*time.Second)
		if err != nil {
			t.Fatalf("registry-%s registers a device: %v", sandbox.App, err)
		}
		if code := resp.Header.Get("Nats-Service-Error-Code"); code != "" {
			t.Fatalf("register: %s %s", code, resp.Header.Get("Nats-Service-Error"))
		}
	}
	byAlias := intent("sec-4")
	byAlias.Targets = events.Targets{Alias: "sec-user"}
	byTag := intent("sec-5")
	byTag.Targets = events.Targets{Tag: "sec-tag"}
	publish(byAlias)
	publish(byTag)
	waitUntil(t, fr, 30*time.Second, func() bool { return fakes.Delivered(aliased) > 0 && fakes.Delivered(tagged) > 0 },
		"the devices targeted by alias and by tag delivered")

	// An FCM job of two tokens whose first request fails: the gcm-sender
	// re-queues one token.
	fcmRetried := []events.Target{
		{Platform: events.FCM, Token: sandbox.Token(events.FCM, 600, false)},
		{Platform: events.FCM, Token: sandbox.Token(events.FCM, 601, false)},
	}
	fakes.FCM.FailNext(1, providertest.RateLimited, time.Second)
	publish(intent("sec-6", fcmRetried...))
	waitUntil(t, fr, 30*time.Second, func() bool { return fakes.Delivered(fcmRetried[0]) > 0 && fakes.Delivered(fcmRetried[1]) > 0 },
		"the re-queued FCM token delivered")

	// Dead letters: a job APNs rejects as malformed (apns-sender) and an
	// intent that is not JSON (dispatcher).
	fakes.APNs.FailNext(1, providertest.BadRequest, 0)
	rejected := events.Target{Platform: events.APNs, Token: sandbox.Token(events.APNs, 700, false)}
	publish(intent("sec-7", rejected))
	if _, err := producer.Publish(ctx, events.IntentSubject(sandbox.App), []byte(`{"id": "sec-8",`)); err != nil {
		t.Fatalf("producer publishes a malformed intent: %v", err)
	}
	deadStream, err := admin.Stream(ctx, events.StreamDead)
	if err != nil {
		t.Fatal(err)
	}
	// The subject names the app, so the malformed intent's dead letter is
	// under its subject's app.
	waitUntil(t, fr, 30*time.Second, func() bool {
		info, err := deadStream.Info(ctx, jetstream.WithSubjectFilter(events.DeadRoot+".>"))
		return err == nil && info.State.Subjects[events.DeadSubject("apns", sandbox.App)] > 0 &&
			info.State.Subjects[events.DeadSubject(events.StageIntents, sandbox.App)] > 0
	}, "dead letters of the apns-sender and the dispatcher stored")

	kv, err := admin.KeyValue(ctx, events.TokensBucket)
	if err != nil {
		t.Fatal(err)
	}
	store := tokens.NewStore(kv)
	waitUntil(t, fr, 30*time.Second, func() bool {
		for _, tg := range dead {
			r, _, err := store.Get(ctx, sandbox.App, tg.Platform, tg.Token)
			if err != nil || r.State != tokens.Invalid {
				return false
			}
		}
		return true
	}, "every unregistered token recorded invalid by the feedback-sink")

	// The dispatcher suppresses a token the registry marks invalid and
	// reports it as feedback.
	publish(intent("sec-9", dead[0]))
	feedback, err := admin.Stream(ctx, events.StreamFeedback)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, fr, 30*time.Second, func() bool {
		m, err := feedback.GetLastMsgForSubject(ctx, events.FeedbackSubject(dead[0].Platform, sandbox.App))
		if err != nil {
			return false
		}
		fbs, _ := events.DecodeFeedbackEvents(m.Data)
		return slices.ContainsFunc(fbs, func(f events.Feedback) bool { return f.IntentID == "sec-9" && f.Outcome == events.Suppressed })
	}, "the dispatcher's suppressed feedback stored")

	confirmed := confirmEverywhere(t, ctx, producer, admin, registry, fakes, fr)
	used := slices.Concat(live, dead, retried, later.Targets.Tokens, []events.Target{aliased, tagged}, fcmRetried, confirmed)
	return append(used, rejected)
}

func waitUntil(t *testing.T, fr *fleetRun, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		fr.exited(t)
		if time.Now().After(deadline) {
			t.Fatalf("not in %v: %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func provisionAsAdmin(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := fleet.Provision(ctx, js, streams.Config{}, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		t.Fatal(err)
	}
	return "p" + hex.EncodeToString(b)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// forgedAppDeadLettered publishes, as the producer, an intent whose body
// names app demo on push.intents.other (the producer may publish on every
// app's subject, so the subject is what an app's permissions would confine)
// and waits for the dispatcher's dead letter, whose reason names both apps;
// the target is never sent to. It returns the target.
func forgedAppDeadLettered(t *testing.T, producer, admin jetstream.JetStream, fakes *sandbox.Providers, fr *fleetRun) events.Target {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	target := events.Target{Platform: events.APNs, Token: sandbox.Token(events.APNs, 800, false)}
	body, err := json.Marshal(&events.Intent{ID: "sec-forged", App: sandbox.App, Targets: events.Targets{Tokens: []events.Target{target}},
		Notification: events.Notification{Title: "forged", Body: "sent as demo on other's subject"}})
	if err != nil {
		t.Fatal(err)
	}
	subject := events.IntentSubject("other")
	if _, err := producer.Publish(ctx, subject, body); err != nil {
		t.Fatalf("producer publishes on %s: %v", subject, err)
	}
	dead, err := admin.Stream(ctx, events.StreamDead)
	if err != nil {
		t.Fatal(err)
	}
	var got events.DeadLetter
	waitUntil(t, fr, 30*time.Second, func() bool {
		for _, app := range []string{"other", sandbox.App} {
			m, err := dead.GetLastMsgForSubject(ctx, events.DeadSubject(events.StageIntents, app))
			if err != nil {
				continue
			}
			var d events.DeadLetter
			if json.Unmarshal(m.Data, &d) == nil && d.Subject == subject {
				got = d
				return true
			}
		}
		return false
	}, "the dispatcher's dead letter of the intent for demo on "+subject)
	t.Logf("dead letter on %s: %s", got.Subject, got.Reason)
	if !strings.Contains(got.Reason, sandbox.App) || !strings.Contains(got.Reason, "other") {
		t.Errorf("dead letter reason %q does not name both apps", got.Reason)
	}
	if n := fakes.Delivered(target); n != 0 {
		t.Errorf("the forged intent was delivered %d times", n)
	}
	return target
}
