package securitytest

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/providers"
	"github.com/pushfleet/pushfleet/pkg/channel/webhook"
	"github.com/pushfleet/pushfleet/pkg/channel/webhook/webhooktest"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
)

// The custom channel "webhook" (docs/channels.md) and its sender's user.
// A platform is declared per process and never undeclared, and the rest of
// this package runs the built-in platforms only, so the processes that
// declare it (the dispatcher, the webhook-sender, provisioning) run in a
// child process: this test binary again, running TestWebhookChild.
const (
	webhookPlatform events.Platform = "webhook"
	webhookSender                   = "webhook-sender"
	// The names pkg/events gives the declared platform's streams.
	webhookSendStream  = "PUSH_SEND_WEBHOOK"
	webhookRetryStream = "PUSH_RETRY_WEBHOOK"
)

// Settings of the child process, in its environment.
const (
	childEnv      = "SECURITYTEST_WEBHOOK_CHILD"
	childURL      = "SECURITYTEST_NATS_URL"
	childApps     = "SECURITYTEST_APPS_FILE"
	childCA       = "SECURITYTEST_CA_FILE"
	childPassword = "SECURITYTEST_PASSWORD_" // + user, as passwordEnv spells it
)

// The shipped configuration runs the webhook channel: the admin provisions
// its streams, the dispatcher (user dispatcher) batches webhook tokens to
// PUSH_SEND_WEBHOOK, and the webhook-sender (its own user, --provision=false)
// delivers to the receiver, re-queues a rate-limited token in its
// PUSH_RETRY_WEBHOOK and delivers it when due, reports feedback (delivered,
// invalid_token) and dead-letters a refused one, all without a permissions
// violation, and drains cleanly. Its user may do nothing of another
// service's, and no other service (the dispatcher, a built-in sender, the
// producer) may touch its re-queues or consumers.
func TestWebhookSenderRunsWithItsOwnRights(t *testing.T) {
	as := startAuthServer(t, nil)
	admin := as.connect(t, "admin")
	secret := []byte("0123456789abcdef-securitytest")
	rcv := webhooktest.New(t, secret)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	apps := write("apps.yaml", fmt.Appendf(nil, "apps:\n  demo:\n    webhook: {url: %q, secret_file: %q}\n", rcv.URL, write("secret", secret)))
	child := startWebhookChild(t, as, apps, write("ca.pem", rcv.CAPEM))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, c := range [][2]string{{events.StreamIntents, events.DurableDispatcher},
		{webhookSendStream, webhookSender}, {webhookRetryStream, webhookSender}} {
		child.waitUntil(t, 30*time.Second, func() bool {
			_, err := admin.js.Consumer(ctx, c[0], c[1])
			return err == nil
		}, "consumer "+c[0]+"/"+c[1]+" bound")
	}

	// Intents with webhook tokens, published as the producer publishes:
	// raw, since this process does not know the platform.
	producer := as.connect(t, "producer")
	publish := func(id string, tokens ...string) {
		t.Helper()
		tgs := make([]string, len(tokens))
		for i, tk := range tokens {
			tgs[i] = fmt.Sprintf(`{"platform":%q,"token":%q}`, webhookPlatform, tk)
		}
		body := fmt.Sprintf(`{"id":%q,"app":"demo","targets":{"tokens":[%s]},"notification":{"title":"secure","body":%q}}`,
			id, strings.Join(tgs, ","), id)
		if _, err := producer.js.Publish(ctx, events.IntentSubject("demo"), []byte(body)); err != nil {
			t.Fatalf("producer publishes %s: %v", id, err)
		}
	}
	rcv.SetDead("sub-gone")
	publish("wh-1", "sub-ok", "sub-gone")
	child.waitUntil(t, 30*time.Second, func() bool { return rcv.Delivered("sub-ok") == 1 }, "sub-ok delivered")
	// Rate-limited once: re-queued on push.retry.webhook.wait.demo.<hash>,
	// released on push.retry.webhook.due.demo, delivered.
	rcv.FailNext(1, fakeserver.RateLimited, time.Second)
	publish("wh-2", "sub-retry")
	child.waitUntil(t, 30*time.Second, func() bool { return rcv.Delivered("sub-retry") == 1 }, "sub-retry delivered after its re-queue")
	retries, err := admin.js.Stream(ctx, webhookRetryStream)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := retries.Info(ctx); err != nil || info.State.LastSeq == 0 {
		t.Fatalf("%s never stored a re-queue (%v): the 429 was not re-queued", webhookRetryStream, err)
	}
	// Refused (400): dead-lettered on push.dead.webhook.demo.
	rcv.FailNext(1, fakeserver.BadRequest, 0)
	publish("wh-3", "sub-bad")
	dead, err := admin.js.Stream(ctx, events.StreamDead)
	if err != nil {
		t.Fatal(err)
	}
	deadSubject := events.DeadSubject(events.SenderStage(webhookPlatform), "demo")
	child.waitUntil(t, 30*time.Second, func() bool {
		_, err := dead.GetLastMsgForSubject(ctx, deadSubject)
		return err == nil
	}, "the refused token dead-lettered on "+deadSubject)
	// Feedback on push.feedback.webhook.demo, per token.
	feedback, err := admin.js.Stream(ctx, events.StreamFeedback)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"sub-gone=invalid_token", "sub-ok=delivered", "sub-retry=delivered"}
	var got []string
	child.waitUntil(t, 30*time.Second, func() bool {
		got = webhookOutcomes(ctx, t, feedback)
		return !slices.ContainsFunc(want, func(w string) bool { return !slices.Contains(got, w) })
	}, "the webhook feedback stored")

	time.Sleep(300 * time.Millisecond) // let late violations reach the log
	if v := as.log.violations(); len(v) > 0 {
		t.Errorf("the webhook channel needed permissions it does not have:\n%s", strings.Join(v, "\n"))
	}
	child.stop(t)
	for _, u := range []string{"admin", "dispatcher", webhookSender} {
		if strings.Contains(child.out.String(), as.passwords[u]) {
			t.Errorf("%s's NATS password appears in the child's logs", u)
		}
	}

	// Confinement, on the streams the child provisioned.
	api := func(format string, a ...any) string { return "$JS.API." + fmt.Sprintf(format, a...) }
	type refusal struct {
		user, subject string
		request       bool // a request (API) rather than a stored publish
	}
	refused := []refusal{
		// the webhook-sender: nothing of another platform, stage or service
		{webhookSender, events.FeedbackSubject(events.APNs, "demo"), false},
		{webhookSender, events.SendSubject(webhookPlatform, "demo"), false},
		{webhookSender, events.IntentSubject("demo"), false},
		{webhookSender, events.RetrySubject(events.APNs, "demo", "x"), false},
		{webhookSender, "push.retry.webhook.due.demo", false},
		{webhookSender, "$KV." + events.TokensBucket + ".demo.webhook.x", false},
		{webhookSender, api("CONSUMER.CREATE.%s.%s", events.SendStream(events.APNs), events.SenderDurable(events.APNs)), true},
		{webhookSender, api("CONSUMER.INFO.%s.%s", events.StreamFeedback, events.DurableFeedbackSink), true},
		{webhookSender, api("STREAM.INFO.%s", webhookSendStream), true},
		{webhookSender, api("STREAM.PURGE.%s", webhookRetryStream), true},
		// the others: nothing of the webhook-sender's
		{"apns-sender", "push.retry.webhook.wait.demo.x", false},
		{"apns-sender", events.FeedbackSubject(webhookPlatform, "demo"), false},
		{"apns-sender", api("CONSUMER.MSG.NEXT.%s.%s", webhookSendStream, webhookSender), true},
		{"dispatcher", "push.retry.webhook.wait.demo.x", false},
		{"dispatcher", "push.retry.webhook.due.demo", false},
		{"dispatcher", api("CONSUMER.INFO.%s.%s", webhookRetryStream, webhookSender), true},
		{"producer", events.SendSubject(webhookPlatform, "demo"), false},
		{"feedback-sink", api("CONSUMER.CREATE.%s.%s", webhookSendStream, webhookSender), true},
	}
	conns := map[string]*client{} // the test's, not a subtest's: they outlive each
	for _, r := range refused {
		if conns[r.user] == nil {
			conns[r.user] = as.connect(t, r.user)
		}
		c := conns[r.user]
		t.Run(r.user+"/"+r.subject, func(t *testing.T) {
			c.denied(t, r.subject, func(ctx context.Context) error {
				if r.request {
					_, err := c.nc.RequestWithContext(ctx, r.subject, []byte(`{}`))
					return err
				}
				_, err := c.js.Publish(ctx, r.subject, []byte(`{}`))
				return err
			})
		})
	}
	t.Run("webhook-sender subscribes to no other inbox nor push subject", func(t *testing.T) {
		c := as.connect(t, webhookSender)
		for _, s := range []string{"_INBOX_dispatcher.>", "_INBOX.>", "push.send.webhook.>", "push.feedback.>"} {
			c.deniedSub(t, s)
		}
	})
}

// webhookOutcomes lists "<token>=<outcome>" of every event stored on
// push.feedback.webhook.demo, sorted.
func webhookOutcomes(ctx context.Context, t *testing.T, feedback jetstream.Stream) []string {
	t.Helper()
	subject := events.FeedbackSubject(webhookPlatform, "demo")
	info, err := feedback.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := feedback.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != subject {
			continue
		}
		// Read loosely: events.DecodeFeedbackEvents would refuse the
		// platform, which this process does not declare.
		var msg struct {
			events.Feedback
			Events []events.Feedback `json:"events"`
		}
		if err := json.Unmarshal(m.Data, &msg); err != nil {
			t.Fatalf("feedback on %s: %v", subject, err)
		}
		if msg.Events == nil {
			msg.Events = []events.Feedback{msg.Feedback}
		}
		for _, f := range msg.Events {
			out = append(out, f.Token+"="+string(f.Outcome))
		}
	}
	slices.Sort(out)
	return out
}

// webhookChild is the child process running the webhook channel.
type webhookChild struct {
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan error
}

// startWebhookChild runs TestWebhookChild in a child process against as,
// with the apps file and the receiver's CA, until stop (or the test's end).
func startWebhookChild(t *testing.T, as *authServer, apps, ca string) *webhookChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestWebhookChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"=1", childURL+"="+as.url(), childApps+"="+apps, childCA+"="+ca)
	for _, u := range []string{"admin", "dispatcher", webhookSender} {
		cmd.Env = append(cmd.Env, childPassword+passwordEnv(u)+"="+as.passwords[u])
	}
	c := &webhookChild{cmd: cmd, out: &lockedBuffer{}, exited: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = c.out, c.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-c.exited
		}
		if t.Failed() {
			t.Logf("child process output:\n%s", tail(c.out.String(), 60))
		}
	})
	return c
}

// waitUntil polls cond, failing the test if the child exits first.
func (c *webhookChild) waitUntil(t *testing.T, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		select {
		case err := <-c.exited:
			c.exited <- err
			t.Fatalf("the child process exited (%v) before: %s", err, what)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not in %v: %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and requires a clean exit: both services drained.
func (c *webhookChild) stop(t *testing.T) {
	t.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.exited:
		if err != nil {
			t.Fatalf("child process: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("child process did not exit within 30s of SIGTERM")
	}
}

// TestWebhookChild is the child process of
// TestWebhookSenderRunsWithItsOwnRights, and does nothing otherwise: it
// declares the platform "webhook", provisions as the admin, and runs the
// dispatcher and the webhook-sender, each as its own user with
// --provision=false, until SIGTERM.
func TestWebhookChild(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		return // not a child: nothing to run
	}
	if _, err := events.DeclarePlatform(string(webhookPlatform)); err != nil {
		t.Fatal(err)
	}
	url := os.Getenv(childURL)
	password := func(user string) string { return os.Getenv(childPassword + passwordEnv(user)) }
	nc, js, err := fleet.Connect(url, nats.UserInfo("admin", password("admin")))
	if err != nil {
		t.Fatal(err)
	}
	provisionAsAdmin(t, js)
	nc.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	getenv := func(user string) func(string) string {
		env := map[string]string{
			"PUSHFLEET_NATS_URL": url, "PUSHFLEET_NATS_USER": user, "PUSHFLEET_NATS_PASSWORD": password(user),
			"PUSHFLEET_PROVISION": "false", "PUSHFLEET_HTTP_ADDR": "127.0.0.1:0", "PUSHFLEET_LOG_LEVEL": "debug",
			"PUSHFLEET_DRAIN_TIMEOUT": "5s",
		}
		return func(k string) string { return env[k] }
	}
	done := make(chan error, 2)
	go func() {
		done <- fleet.RunCommand(ctx, "dispatcher", "dispatcher", nil, getenv("dispatcher"), os.Stderr, fleet.DispatcherCommand)
	}()
	go func() {
		done <- providers.RunSender(ctx, webhookSender, webhookSender, &webhookFlags{caFile: os.Getenv(childCA)},
			[]string{"--apps-file", os.Getenv(childApps), "--apps-reload", "0"}, getenv(webhookSender), os.Stderr)
	}()
	for range 2 {
		if err := <-done; err != nil {
			t.Error(err)
			stop() // the other one too
		}
	}
}

// webhookFlags wires the webhook channel as cmd/webhook-sender does
// (providers.Flags), trusting the receiver's CA.
type webhookFlags struct{ caFile string }

func (f *webhookFlags) Register(*flag.FlagSet) {}

func (f *webhookFlags) Service(env *fleet.Env, sc config.SenderOptions) (fleet.Service, error) {
	pem, err := os.ReadFile(f.caFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no certificate", f.caFile)
	}
	return providers.Service(env, webhookPlatform, sc, func(apps map[string]webhook.AppConfig) (*webhook.Sender, error) {
		return webhook.New(apps, webhook.Options{Roots: roots, Metrics: env.Metrics.Provider})
	})
}
