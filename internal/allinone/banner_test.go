package allinone

import (
	"bytes"
	"strings"
	"testing"
)

// The start banner's commands must work as printed: pushctl talks to the
// server the fleet exposes, for an app that exists.
func TestBannerCommandsReachTheFleet(t *testing.T) {
	tests := []struct {
		name, natsURL, app string
		want, notWant      []string
	}{
		{"listening", "nats://127.0.0.1:14222", "demo",
			[]string{"pushctl send --nats-url nats://127.0.0.1:14222 --app demo", "pushctl tail -f --nats-url nats://127.0.0.1:14222"}, nil},
		{"in-process only", "", "demo",
			[]string{"pushctl send --app demo", "--listen to expose it"}, []string{"--nats-url"}},
		{"apps file", "nats://127.0.0.1:4222", "<an app of apps.yaml>",
			[]string{"--app <an app of apps.yaml>"}, []string{"--app demo"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			banner(&b, "sandbox providers", tt.natsURL, "http://127.0.0.1:8080", tt.app)
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("banner lacks %q:\n%s", w, b.String())
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(b.String(), w) {
					t.Errorf("banner has %q:\n%s", w, b.String())
				}
			}
		})
	}
}

// PUSHFLEET_NATS_URL exported for pushctl must not turn the all-in-one
// into a client of a server that is not there; --nats-url still does.
func TestNATSURLFromTheEnvironmentIsPushctls(t *testing.T) {
	env := func(name string) string {
		if name == "PUSHFLEET_NATS_URL" {
			return "nats://127.0.0.1:4222"
		}
		return ""
	}
	var out, errb bytes.Buffer
	o, err := Parse(nil, env, &out, &errb)
	if err != nil {
		t.Fatal(err)
	}
	if o.Common.NATSURL != "" {
		t.Errorf("NATS URL %q taken from the environment: the embedded server would not run", o.Common.NATSURL)
	}
	o, err = Parse([]string{"--nats-url", "nats://127.0.0.1:14222"}, env, &out, &errb)
	if err != nil {
		t.Fatal(err)
	}
	if o.Common.NATSURL != "nats://127.0.0.1:14222" {
		t.Errorf("--nats-url gave %q", o.Common.NATSURL)
	}
}
