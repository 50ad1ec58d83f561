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
