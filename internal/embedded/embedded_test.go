package embedded_test

import (
	"net/url"
	"testing"

	"github.com/pushfleet/pushfleet/internal/embedded"
)

// --listen 127.0.0.1:0 picks a free port, as net.Listen does, and the URL
// printed for pushctl is the one really listened on (nats-server alone
// would take 0 for its default 4222).
func TestListenOnAnyFreePort(t *testing.T) {
	srv, err := embedded.Start(embedded.Config{StoreDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	if p := u.Port(); p == "" || p == "0" || p == "4222" {
		t.Errorf("listening on %q, want a free port", srv.URL())
	}
}
