package config

import (
	"flag"
	"io"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/internal/consumer"
)

func TestFlagsWinOverEnvironment(t *testing.T) {
	env := map[string]string{
		"PUSHFLEET_NATS_URL":      "nats://from-env:4222",
		"PUSHFLEET_HTTP_ADDR":     ":9999",
		"PUSHFLEET_DRAIN_TIMEOUT": "7s",
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var c Common
	c.Register(fs, ":8080")
	if err := Parse(fs, []string{"--http-addr", ":7000"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.NATSURL != "nats://from-env:4222" || c.HTTPAddr != ":7000" || c.DrainTimeout != 7*time.Second {
		t.Fatalf("got url %q addr %q drain %v", c.NATSURL, c.HTTPAddr, c.DrainTimeout)
	}
}

func TestBadEnvironmentValueNamesTheVariable(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c Common
	c.Register(fs, ":8080")
	err := Parse(fs, nil, func(k string) string {
		if k == "PUSHFLEET_DRAIN_TIMEOUT" {
			return "soon"
		}
		return ""
	})
	if err == nil || err.Error()[:len("PUSHFLEET_DRAIN_TIMEOUT")] != "PUSHFLEET_DRAIN_TIMEOUT" {
		t.Fatalf("err = %v, want one naming PUSHFLEET_DRAIN_TIMEOUT", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Common)
		ok   bool
	}{
		{"defaults", func(*Common) {}, true},
		{"bad level", func(c *Common) { c.LogLevel = "loud" }, false},
		{"cert without key", func(c *Common) { c.NATSCert = "c.pem" }, false},
		{"user without password", func(c *Common) { c.NATSUser = "u" }, false},
		{"replicas", func(c *Common) { c.Streams.Replicas = 9 }, false},
		{"ack wait below a second", func(c *Common) { c.AckWait = 500 * time.Millisecond }, false},
		{"ack wait zero is the default", func(c *Common) { c.AckWait = 0 }, true},
		{"negative max attempts", func(c *Common) { c.MaxAttempts = -1 }, false},
		{"max attempts zero is the default", func(c *Common) { c.MaxAttempts = 0 }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			var c Common
			c.Register(fs, ":8080")
			tc.mod(&c)
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// --max-attempts is a common flag, so every binary has it (the dispatcher
// and the feedback-sink too), with its environment twin.
func TestMaxAttemptsIsCommon(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want int
	}{
		{"default", nil, nil, consumer.DefaultMaxAttempts},
		{"flag", []string{"--max-attempts", "3"}, nil, 3},
		{"environment", nil, map[string]string{"PUSHFLEET_MAX_ATTEMPTS": "4"}, 4},
		{"flag wins", []string{"--max-attempts=5"}, map[string]string{"PUSHFLEET_MAX_ATTEMPTS": "4"}, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			var c Common
			c.Register(fs, ":8080")
			if err := Parse(fs, tc.args, func(k string) string { return tc.env[k] }); err != nil {
				t.Fatal(err)
			}
			if c.MaxAttempts != tc.want {
				t.Fatalf("MaxAttempts = %d, want %d", c.MaxAttempts, tc.want)
			}
		})
	}
}
