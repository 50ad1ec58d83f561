package config

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

func TestVersionFlag(t *testing.T) {
	newFS := func() (*flag.FlagSet, *Common) {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var c Common
		c.Register(fs, ":8080")
		return fs, &c
	}
	noEnv := func(string) string { return "" }
	for _, args := range [][]string{{"--version"}, {"-version"}, {"--nats-url", "nats://x:4222", "--version"}, {"--version=true"}} {
		fs, _ := newFS()
		if err := Parse(fs, args, noEnv); !errors.Is(err, ErrVersion) {
			t.Errorf("Parse(%q) = %v, want ErrVersion", args, err)
		}
	}
	// --version wins over an environment value that would not parse: it
	// prints and exits whatever the deployment sets.
	fs, _ := newFS()
	bad := func(k string) string {
		if k == "PUSHFLEET_DRAIN_TIMEOUT" {
			return "soon"
		}
		return ""
	}
	if err := Parse(fs, []string{"--version"}, bad); !errors.Is(err, ErrVersion) {
		t.Errorf("with a bad environment: %v, want ErrVersion", err)
	}
	// No environment twin: PUSHFLEET_VERSION (a deployment's own variable,
	// say) neither prints the version nor fails the parse.
	fs, c := newFS()
	env := map[string]string{"PUSHFLEET_VERSION": "v1.2.3", "PUSHFLEET_NATS_URL": "nats://env:4222"}
	if err := Parse(fs, nil, func(k string) string { return env[k] }); err != nil {
		t.Fatalf("PUSHFLEET_VERSION set: %v", err)
	}
	if c.NATSURL != "nats://env:4222" {
		t.Errorf("environment not read: %q", c.NATSURL)
	}
	for _, n := range EnvNames(fs) {
		if n == "PUSHFLEET_VERSION" {
			t.Errorf("EnvNames lists PUSHFLEET_VERSION")
		}
	}
	var usage strings.Builder
	fs.SetOutput(&usage)
	Usage(fs, "t")()
	if !strings.Contains(usage.String(), "\n  --version\n") || strings.Contains(usage.String(), "PUSHFLEET_VERSION") {
		t.Errorf("usage: want --version without an environment twin:\n%s", usage.String())
	}
	if !IsVersionArg("--version") || !IsVersionArg("-version") || IsVersionArg("version") || IsVersionArg("--versions") {
		t.Errorf("IsVersionArg")
	}
}
