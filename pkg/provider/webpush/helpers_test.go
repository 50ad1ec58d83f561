package webpush_test

import (
	"crypto/ecdh"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/webpush"
	"github.com/pushfleet/pushfleet/pkg/provider/webpush/webpushfake"
)

const (
	testApp     = "web-app"
	testSubject = "mailto:ops@example.com"
)

// vapidKeys is a fresh VAPID key pair.
type vapidKeys struct {
	priv   *ecdh.PrivateKey
	public []byte
}

func newVAPID(t testing.TB) vapidKeys {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return vapidKeys{priv: k, public: k.PublicKey().Bytes()}
}

func (k vapidKeys) app() webpush.AppConfig {
	return webpush.AppConfig{
		PublicKey:  base64.RawURLEncoding.EncodeToString(k.public),
		PrivateKey: base64.RawURLEncoding.EncodeToString(k.priv.Bytes()),
		Subject:    testSubject,
	}
}

// fixture is a fake push service, one app's VAPID keys and a sender.
type fixture struct {
	fake   *webpushfake.Server
	keys   vapidKeys
	cfg    webpush.Config
	sender *webpush.Sender
	tokens map[int]string
}

func newFixture(t testing.TB, opts webpushfake.Options, cfg webpush.Config) *fixture {
	t.Helper()
	fake, err := webpushfake.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	f := &fixture{fake: fake, keys: newVAPID(t), tokens: map[int]string{}}
	cfg.RootCAs = fake.CertPool()
	f.cfg = cfg
	f.sender = f.newSender(t, cfg)
	return f
}

func (f *fixture) newSender(t testing.TB, cfg webpush.Config) *webpush.Sender {
	t.Helper()
	s, err := webpush.New(cfg, map[string]webpush.AppConfig{testApp: f.keys.app()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// token returns the i-th subscription bound to the app's key.
func (f *fixture) token(t testing.TB, i int) string {
	t.Helper()
	if tok, ok := f.tokens[i]; ok {
		return tok
	}
	tok, err := f.fake.Subscribe(f.keys.public)
	if err != nil {
		t.Fatal(err)
	}
	f.tokens[i] = tok
	return tok
}

func newJob(tokens ...string) *events.Job {
	return &events.Job{
		ID: "job-1", IntentID: "intent-1", App: testApp, Platform: events.Platform(webpush.Platform),
		Tokens:       tokens,
		Notification: events.Notification{Title: "hello", Body: "world", Data: map[string]any{"k": "v"}},
		CreatedAt:    time.Now(),
	}
}

func ecdsaCurve() elliptic.Curve { return elliptic.P256() }
