package mi_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/mi"
	"github.com/pushfleet/pushfleet/pkg/provider/mi/mifake"
)

// TestCloseLeavesNoGoroutines: after Close (sender and fake) the
// connection goroutines of every generation are gone.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	fake, err := mifake.Start(mifake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := fake.SenderConfig()
	cfg.ConnMaxAge = 10 * time.Millisecond
	s, err := mi.New(cfg, map[string]mi.AppConfig{testApp: fake.SandboxApp("")})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if r := send(t, s, testJob(regid(i)))[0]; r.Kind != provider.Delivered {
			t.Fatal(r)
		}
		time.Sleep(15 * time.Millisecond) // let the generation age out
	}
	_ = s.Close()
	fake.Close()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
