package cmdtest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/sandbox/sandboxtest"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// binaries are the fleet's services, the custom webhook channel's sender
// among them (it declares its platform itself).
var binaries = []string{"dispatcher", "apns-sender", "gcm-sender", "mi-sender", "hms-sender", "webpush-sender", "webhook-sender",
	"feedback-sink", "confirm-service"}

func build(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, b := range binaries {
		args = append(args, "github.com/pushfleet/pushfleet/cmd/"+b)
	}
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// appsFile writes an apps file whose app has valid credentials for the
// five providers' fakes.
func appsFile(t *testing.T) string {
	t.Helper()
	return sandboxtest.AppsFile(t, sandboxtest.Start(t), t.TempDir())
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Each service binary runs standalone against an external server given by
// --nats-url, becomes ready, and exits cleanly on SIGTERM.
func TestBinariesRunStandalone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	bin := build(t)
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv)
	apps := appsFile(t)
	for _, name := range binaries {
		t.Run(name, func(t *testing.T) {
			addr := freeAddr(t)
			cmd := exec.Command(filepath.Join(bin, name))
			// Configured through the environment twins, as on Kubernetes.
			cmd.Env = append(os.Environ(), "PUSHFLEET_NATS_URL="+srv.ClientURL(), "PUSHFLEET_HTTP_ADDR="+addr,
				"PUSHFLEET_APPS_FILE="+apps, "PUSHFLEET_DRAIN_TIMEOUT=5s")
			logs, _ := os.Create(filepath.Join(t.TempDir(), name+".log"))
			cmd.Stdout, cmd.Stderr = logs, logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			defer func() {
				if cmd.ProcessState == nil {
					_ = cmd.Process.Kill()
				}
			}()
			ready := func() bool {
				resp, err := http.Get("http://" + addr + "/readyz")
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode == http.StatusOK
			}
			deadline := time.Now().Add(20 * time.Second)
			for !ready() {
				select {
				case err := <-exited:
					b, _ := os.ReadFile(logs.Name())
					t.Fatalf("%s exited before ready: %v\n%s", name, err, b)
				default:
				}
				if time.Now().After(deadline) {
					b, _ := os.ReadFile(logs.Name())
					t.Fatalf("%s not ready in 20s\n%s", name, b)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if name == "dispatcher" {
				dispatchThroughProcess(t, js)
			}
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-exited:
				if err != nil {
					b, _ := os.ReadFile(logs.Name())
					t.Fatalf("%s exit after SIGTERM: %v\n%s", name, err, b)
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("%s did not exit within 15s of SIGTERM", name)
			}
		})
	}
}

// dispatchThroughProcess publishes an intent and waits for its job on the
// APNs stream, proving the standalone dispatcher does its work.
func dispatchThroughProcess(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in := &events.Intent{ID: "standalone-1", App: "demo",
		Targets:      events.Targets{Tokens: []events.Target{{Platform: events.APNs, Token: "abcd"}}},
		Notification: events.Notification{Title: "hi"}}
	if _, err := events.NewPublisher(js).Publish(ctx, in); err != nil {
		t.Fatal(err)
	}
	for {
		s, err := js.Stream(ctx, events.SendStream(events.APNs))
		if err == nil {
			if info, err := s.Info(ctx); err == nil && info.State.Msgs == 1 {
				return
			}
		}
		if ctx.Err() != nil {
			t.Fatal(fmt.Errorf("no job on %s: %w", events.SendStream(events.APNs), ctx.Err()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
