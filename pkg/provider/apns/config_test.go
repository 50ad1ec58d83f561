package apns

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" means valid
	}{
		{"zero is valid", Config{}, ""},
		{"custom URLs", Config{ProductionURL: "https://127.0.0.1:8443", SandboxURL: "https://localhost/"}, ""},
		{"http URL", Config{SandboxURL: "http://x"}, "SandboxURL"},
		{"URL with path", Config{ProductionURL: "https://x/3/device"}, "ProductionURL"},
		{"negative conns", Config{ConnsPerPool: -1}, "ConnsPerPool"},
		{"negative timeout", Config{RequestTimeout: -time.Second}, "RequestTimeout"},
		{"backoff min over max", Config{ReconnectBackoffMin: time.Minute, ReconnectBackoffMax: time.Second}, "ReconnectBackoffMin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one naming %s", err, tc.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.ProductionURL != DefaultProductionURL || c.SandboxURL != DefaultSandboxURL ||
		c.ConnsPerPool != 2 || c.MaxStreamsPerConn != 100 || c.RequestTimeout != 10*time.Second ||
		c.JWTRenewInterval != 20*time.Minute || c.Logger == nil {
		t.Fatalf("defaults: %+v", c)
	}
	if got := (&Config{SandboxURL: "https://h/"}).baseURL(Sandbox); got != "https://h" {
		t.Fatalf("baseURL = %q", got)
	}
}
