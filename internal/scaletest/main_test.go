package scaletest

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/pushfleet/pushfleet/internal/proctest"
)

// binaries are the processes the scenarios run: nats-server from the
// module and the services.
var binaries = &proctest.Binaries{Packages: []string{
	"github.com/nats-io/nats-server/v2",
	"github.com/pushfleet/pushfleet/cmd/dispatcher",
	"github.com/pushfleet/pushfleet/cmd/apns-sender",
	"github.com/pushfleet/pushfleet/cmd/feedback-sink",
}}

var scaleFlag = flag.Bool("scale", false, "run the full scale suite (also PUSHFLEET_SCALE=1)")

// full reports whether the full suite was asked for.
func full() bool { return *scaleFlag || os.Getenv("PUSHFLEET_SCALE") == "1" }

// requireFull skips a scenario of the full suite unless it was asked for:
// together they take several minutes, beyond the CI budget.
func requireFull(t *testing.T) {
	t.Helper()
	if !full() {
		t.Skip("full scale suite: PUSHFLEET_SCALE=1 or -scale")
	}
}

func TestMain(m *testing.M) {
	flag.Parse()
	// Binaries built elsewhere (another revision's, to compare figures):
	// nats-server, dispatcher, apns-sender and feedback-sink in one directory.
	binaries.Dir = os.Getenv("PUSHFLEET_SCALE_BIN")
	code := m.Run()
	if l := summary.all(); len(l) > 0 {
		fmt.Println("scaletest summary:")
		for _, s := range l {
			fmt.Println("  " + s)
		}
	}
	binaries.Remove()
	os.Exit(code)
}
