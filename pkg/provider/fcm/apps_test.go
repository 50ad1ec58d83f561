package fcm_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm/fcmfake"
)

func wantDelivered(t *testing.T, s *fcm.Sender, app string, tok string) {
	t.Helper()
	if r := send(t, s, newJob(app, tok), 5*time.Second)[0]; r.Kind != provider.Delivered {
		t.Fatalf("app %s: %v (%s, %v), want delivered", app, r.Kind, r.Reason, r.Err)
	}
}

// TestTwoProjects sends concurrently through two apps of different FCM
// projects in one sender, over one HTTP/2 connection.
func TestTwoProjects(t *testing.T) {
	t.Parallel()
	f := startFake(t, fcmfake.Options{})
	s := newSender(t, f, fcm.Config{}, map[string]fcm.AppConfig{
		"a": sandboxApp(t, f, "a", "proj-a"),
		"b": sandboxApp(t, f, "b", "proj-b"),
	})
	var wg sync.WaitGroup
	errs := make(chan string, 20)
	for i := range 20 {
		app := []string{"a", "b"}[i%2]
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for _, r := range s.Send(ctx, newJob(app, tokens(i*100, 10)...)) {
				if r.Kind != provider.Delivered {
					errs <- app + ": " + r.Kind.String() + " " + r.Reason
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	if n := f.TotalDelivered(); n != 200 {
		t.Fatalf("%d delivered, want 200", n)
	}
	if n := f.TokenRequests(); n != 2 {
		t.Fatalf("%d token requests, want one per project's account (2)", n)
	}
}

// TestTokenCached checks the OAuth access token is fetched once and reused
// for many concurrent sends, over a bounded number of connections.
func TestTokenCached(t *testing.T) {
	t.Parallel()
	f := startFake(t, fcmfake.Options{})
	s := newSender(t, f, fcm.Config{}, map[string]fcm.AppConfig{"app": sandboxApp(t, f, "app", "proj")})
	wantDelivered(t, s, "app", token(0))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { send(t, s, newJob("app", tokens(i*50, 50)...), 10*time.Second) })
	}
	wg.Wait()
	if n := f.TotalDelivered(); n != 401 {
		t.Fatalf("%d delivered, want 401", n)
	}
	if n := f.TokenRequests(); n != 1 {
		t.Fatalf("%d token requests for 401 sends, want 1", n)
	}
	// 400 requests in flight exceed one HTTP/2 connection's streams, so a
	// few more connections may open; never one per request (without
	// MaxConnsPerHost Go's transport opened ~200 here).
	if n := f.Connections(); n > 20 {
		t.Fatalf("%d connections for 400 concurrent requests, want a few", n)
	}
}

// TestUpdateApps rotates one app's key, adds an app from a key file,
// removes one, and checks an invalid update changes nothing.
func TestUpdateApps(t *testing.T) {
	t.Parallel()
	f := startFake(t, fcmfake.Options{})
	a := sandboxApp(t, f, "a", "proj-a")
	b := sandboxApp(t, f, "b", "proj-b")
	s := newSender(t, f, fcm.Config{}, map[string]fcm.AppConfig{"a": a, "b": b})
	wantDelivered(t, s, "a", token(1))
	wantDelivered(t, s, "b", token(2))
	if n := f.TokenRequests(); n != 2 {
		t.Fatalf("%d token requests, want 2", n)
	}
	conns := f.Connections()

	// Rotate a's key: only a fetches a new access token; the old key can
	// then be revoked without a's sends noticing.
	oldKey := keyOf(t, a)
	sa, err := f.NewServiceAccount("a", "proj-a")
	if err != nil {
		t.Fatal(err)
	}
	a2 := fcm.AppConfig{ProjectID: "proj-a", CredentialsJSON: string(sa.JSON)}
	if err := s.UpdateApps(map[string]fcm.AppConfig{"a": a2, "b": b}); err != nil {
		t.Fatal(err)
	}
	f.RevokeKey(oldKey.email, oldKey.id)
	f.RevokeAccessTokens() // a's old cached token must not be what is used
	wantDelivered(t, s, "a", token(3))
	if n := f.TokenRequests(); n != 3 {
		t.Fatalf("%d token requests after rotating a, want 3", n)
	}

	// A bad update is refused as a whole.
	bad := map[string]fcm.AppConfig{"a": a2, "b": b, "c": {ProjectID: "proj-c", CredentialsJSON: `{"type":"authorized_user"}`}}
	if err := s.UpdateApps(bad); err == nil || !strings.Contains(err.Error(), `"c"`) {
		t.Fatalf("bad update: err %v, want one naming app c", err)
	}

	// Add c from a key file and remove b.
	saC, err := f.NewServiceAccount("c", "proj-a")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(path, saC.JSON, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateApps(map[string]fcm.AppConfig{"a": a2, "c": {ProjectID: "proj-a", CredentialsFile: path}}); err != nil {
		t.Fatal(err)
	}
	wantDelivered(t, s, "c", token(4))
	r := send(t, s, newJob("b", token(5)), 5*time.Second)[0]
	if r.Kind != provider.Permanent || !errors.Is(r.Err, provider.ErrUnknownApp) {
		t.Fatalf("removed app: %v %v, want permanent unknown app", r.Kind, r.Err)
	}
	if n := f.Connections(); n != conns {
		t.Fatalf("%d connections after updates, want %d: updates must not reconnect", n, conns)
	}
}

type keyRef struct{ email, id string }

func keyOf(t *testing.T, a fcm.AppConfig) keyRef {
	t.Helper()
	var k struct {
		Email string `json:"client_email"`
		ID    string `json:"private_key_id"`
	}
	if err := json.Unmarshal([]byte(a.CredentialsJSON), &k); err != nil {
		t.Fatal(err)
	}
	return keyRef{k.Email, k.ID}
}
