package sandbox_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"maps"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/internal/apps"
	"github.com/pushfleet/pushfleet/internal/sandbox"
	"github.com/pushfleet/pushfleet/internal/sandbox/sandboxtest"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
	"github.com/pushfleet/pushfleet/pkg/provider/hms"
	"github.com/pushfleet/pushfleet/pkg/provider/mi"
	"github.com/pushfleet/pushfleet/pkg/provider/webpush"
)

var platforms = []events.Platform{events.APNs, events.FCM, events.Mi, events.HMS, events.WebPush}

// urls are the base URLs of the five fakes.
func urls(p *sandbox.Providers) map[events.Platform]string {
	return map[events.Platform]string{events.APNs: p.APNs.URL(), events.FCM: p.FCM.URL(), events.Mi: p.Mi.URL(),
		events.HMS: p.HMS.URL(), events.WebPush: p.WebPush.URL()}
}

// The three fakes start with App configured in each: a sender built for a
// platform delivers to its fake, and tokens starting with "dead" come back
// invalid, as a provider reports an unregistered device.
func TestSendersDeliverAndDeadTokensAreInvalid(t *testing.T) {
	t.Parallel()
	p := sandboxtest.Start(t)
	for _, pl := range platforms {
		t.Run(string(pl), func(t *testing.T) {
			t.Parallel()
			s := sandboxtest.NewSender(t, p, pl, sandbox.SenderConfig{})
			live, dead := p.Token(pl, 1, false), p.Token(pl, 2, true)
			job := &events.Job{ID: "j-" + string(pl), IntentID: "i1", App: sandbox.App, Platform: pl,
				Tokens: []string{live, dead}, CreatedAt: time.Now(),
				Notification: events.Notification{Title: "sandbox", Body: "hello"}}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			results := s.Send(ctx, job)
			if len(results) != 2 {
				t.Fatalf("%d results for 2 tokens: %+v", len(results), results)
			}
			byToken := map[string]provider.Result{}
			for _, r := range results {
				byToken[r.Token] = r
			}
			if r := byToken[live]; r.Kind != provider.Delivered {
				t.Errorf("live token: %v (%s, %v), want delivered", r.Kind, r.Reason, r.Err)
			}
			if r := byToken[dead]; r.Kind != provider.InvalidToken {
				t.Errorf("dead token: %v (%s, %v), want invalid_token", r.Kind, r.Reason, r.Err)
			}
			if n := p.Delivered(events.Target{Platform: pl, Token: live}); n != 1 {
				t.Errorf("the fake delivered the live token %d times, want 1", n)
			}
			if n := p.Delivered(events.Target{Platform: pl, Token: dead}); n != 0 {
				t.Errorf("the fake delivered the dead token %d times, want 0", n)
			}
		})
	}
}

// An app the fakes do not know is not delivered: the sender knows App only.
func TestSendersKnowOnlyApp(t *testing.T) {
	t.Parallel()
	p := sandboxtest.Start(t)
	s := sandboxtest.NewSender(t, p, events.FCM, sandbox.SenderConfig{})
	tok := sandbox.Token(events.FCM, 1, false)
	job := &events.Job{ID: "j", App: "other", Platform: events.FCM, Tokens: []string{tok},
		Notification: events.Notification{Title: "t", Body: "b"}}
	for _, r := range s.Send(context.Background(), job) {
		if r.Kind == provider.Delivered {
			t.Fatalf("delivered for an unknown app: %+v", r)
		}
	}
	if n := p.Delivered(events.Target{Platform: events.FCM, Token: tok}); n != 0 {
		t.Fatalf("delivered %d times", n)
	}
}

// Close stops the three fakes: their ports are free again, and closing
// what never started (a Start that failed half-way) is safe.
func TestCloseReleasesPorts(t *testing.T) {
	t.Parallel()
	p, err := sandbox.Start()
	if err != nil {
		t.Fatal(err)
	}
	addrs := map[events.Platform]string{}
	for pl, raw := range urls(p) {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		addrs[pl] = u.Host
		c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
		if err != nil {
			t.Fatalf("%s fake not listening on %s: %v", pl, u.Host, err)
		}
		c.Close()
	}
	p.Close()
	for pl, addr := range addrs {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("%s fake's port %s still taken after Close: %v", pl, addr, err)
			continue
		}
		l.Close()
	}
	(&sandbox.Providers{}).Close()
}

// The apps file gives App its credentials for the three fakes, in the
// shape --apps-file reads.
func TestAppsFile(t *testing.T) {
	t.Parallel()
	p := sandboxtest.Start(t)
	path := sandboxtest.AppsFile(t, p, t.TempDir())
	f, err := apps.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(f.Apps)); !slices.Equal(got, []string{sandbox.App}) {
		t.Fatalf("apps %v, want [%s]", got, sandbox.App)
	}
	if a, err := apps.Section[apns.AppConfig](f, events.APNs); err != nil || a[sandbox.App].Topic == "" {
		t.Errorf("apns section %+v, %v", a, err)
	}
	if a, err := apps.Section[fcm.AppConfig](f, events.FCM); err != nil || a[sandbox.App].CredentialsJSON == "" {
		t.Errorf("fcm section %+v, %v", a, err)
	}
	if a, err := apps.Section[mi.AppConfig](f, events.Mi); err != nil || a[sandbox.App].AppSecret == "" {
		t.Errorf("mi section %+v, %v", a, err)
	}
	if a, err := apps.Section[hms.AppConfig](f, events.HMS); err != nil || a[sandbox.App].ClientSecret == "" {
		t.Errorf("hms section %+v, %v", a, err)
	}
	if a, err := apps.Section[webpush.AppConfig](f, events.WebPush); err != nil || a[sandbox.App].PrivateKey == "" {
		t.Errorf("webpush section %+v, %v", a, err)
	}

	// Secrets are pieces of those credentials, as a log would carry them.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	body := strings.ReplaceAll(string(b), `\n`, "")
	secrets := p.Secrets()
	if len(secrets) != 5 {
		t.Fatalf("%d secrets, want 5", len(secrets))
	}
	for i, s := range secrets {
		if len(s) < 8 || !strings.Contains(body, s) {
			t.Errorf("secret %d %q is not a piece of the apps file's credentials", i, s)
		}
	}
}

// SenderArgs point a sender binary at its fake: the apps file, the fake's
// URL, and a CA file that makes the fake's TLS certificate trusted.
func TestSenderArgsTrustTheFake(t *testing.T) {
	t.Parallel()
	p := sandboxtest.Start(t)
	dir := t.TempDir()
	appsFile := sandboxtest.AppsFile(t, p, dir)
	for pl, raw := range urls(p) {
		args := sandboxtest.SenderArgs(t, p, pl, dir, appsFile)
		flags := map[string]string{}
		for i := 0; i+1 < len(args); i += 2 {
			flags[strings.TrimPrefix(args[i], "--")] = args[i+1]
		}
		if flags["apps-file"] != appsFile {
			t.Errorf("%s: --apps-file %q, want %q", pl, flags["apps-file"], appsFile)
		}
		caFile := flags[string(pl)+"-ca-file"]
		pem, err := os.ReadFile(caFile)
		if err != nil {
			t.Fatalf("%s: CA file: %v (args %v)", pl, err, args)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			t.Fatalf("%s: %s holds no certificate", pl, caFile)
		}
		u, _ := url.Parse(raw)
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", u.Host,
			&tls.Config{RootCAs: pool, NextProtos: []string{"h2", "http/1.1"}})
		if err != nil {
			t.Errorf("%s: the fake's certificate is not trusted with %s: %v", pl, caFile, err)
			continue
		}
		conn.Close()
	}
	if _, err := p.SenderArgs("nosuch", dir, appsFile); err == nil {
		t.Error("SenderArgs for an unknown platform: no error")
	}
	if _, err := p.NewSender("nosuch", sandbox.SenderConfig{}); err == nil {
		t.Error("NewSender for an unknown platform: no error")
	}
}

// Tokens have their platform's shape, differ by index, and dead ones
// start with "dead".
func TestToken(t *testing.T) {
	t.Parallel()
	shapes := map[events.Platform]*regexp.Regexp{
		events.APNs: regexp.MustCompile(`^[0-9a-f]{64}$`),
		events.FCM:  regexp.MustCompile(`^[0-9a-z]+:APA91b-sandbox-token$`),
		events.Mi:   regexp.MustCompile(`^[0-9a-z]+\+sandbox/regid=$`),
		events.HMS:  regexp.MustCompile(`^[0-9a-zA-Z]+-sandbox-hms-token$`),
	}
	for _, pl := range []events.Platform{events.APNs, events.FCM, events.Mi, events.HMS} {
		seen := map[string]bool{}
		for i := range 3 {
			for _, dead := range []bool{false, true} {
				tok := sandbox.Token(pl, i, dead)
				if !shapes[pl].MatchString(tok) {
					t.Errorf("%s token %q has not the platform's shape", pl, tok)
				}
				if strings.HasPrefix(tok, "dead") != dead {
					t.Errorf("%s token %q: dead %v", pl, tok, dead)
				}
				if seen[tok] {
					t.Errorf("%s token %q repeats", pl, tok)
				}
				seen[tok] = true
			}
		}
	}
}

// Web Push tokens are subscriptions of the sandbox's fake: valid, the same
// for the same arguments, distinct otherwise; the package-level Token is a
// valid subscription too.
func TestWebPushTokens(t *testing.T) {
	t.Parallel()
	p := sandboxtest.Start(t)
	seen := map[string]bool{}
	for i := range 3 {
		for _, dead := range []bool{false, true} {
			for _, tok := range []string{p.Token(events.WebPush, i, dead), sandbox.Token(events.WebPush, i, dead)} {
				if _, err := webpush.ParseToken(tok); err != nil {
					t.Errorf("%q: %v", tok, err)
				}
				if err := events.CheckTokenFor(events.WebPush, tok); err != nil {
					t.Errorf("%q: %v", tok, err)
				}
				if seen[tok] {
					t.Errorf("%q repeats", tok)
				}
				seen[tok] = true
			}
			if p.Token(events.WebPush, i, dead) != p.Token(events.WebPush, i, dead) {
				t.Errorf("token %d %v changes", i, dead)
			}
		}
	}
}
