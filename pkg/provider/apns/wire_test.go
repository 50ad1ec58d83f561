package apns_test

import (
	"testing"

	"golang.org/x/net/http2"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
	"github.com/pushfleet/pushfleet/pkg/provider/apns/apnsfake"
	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

// TestWireCountedFake: a fake counting the wire still authenticates both
// ways (the client certificate reaches it through r.TLS) and counts one
// HEADERS and one DATA frame per push.
func TestWireCountedFake(t *testing.T) {
	var w fakeserver.WireCounter
	fake, err := apnsfake.Start(apnsfake.Options{Wire: &w})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	tokenApp, err := fake.SandboxApp(testTopic)
	if err != nil {
		t.Fatal(err)
	}
	certApp, err := fake.SandboxCertApp(testTopic)
	if err != nil {
		t.Fatal(err)
	}
	s, err := apns.New(fake.Config(), map[string]apns.AppConfig{"token": tokenApp, "cert": certApp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	toks := tokens(0, 3)
	for _, app := range []string{"token", "cert"} {
		for _, r := range send(t, s, newJob(app, toks...)) {
			providertest.WantKind(t, r, provider.Delivered)
		}
	}
	in := w.Snapshot().In
	if h, d := in.Frame(http2.FrameHeaders), in.Frame(http2.FrameData); h != 6 || d != 6 {
		t.Fatalf("counted %d HEADERS and %d DATA frames for 6 pushes", h, d)
	}
}
