// Package config binds command-line flags to their environment twins and
// holds the settings every pushfleet binary shares (NATS connection, HTTP
// endpoints, logging, stream provisioning).
package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/pushfleet/pushfleet/internal/config/invalid"
)

// EnvPrefix starts every environment twin: flag --nats-url is PUSHFLEET_NATS_URL.
const EnvPrefix = "PUSHFLEET_"

// EnvName is the environment twin of a flag.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// VersionFlag asks a binary to print its version and exit 0. It has no
// environment twin: PUSHFLEET_VERSION set in a deployment must not turn a
// service into a one-line print.
const VersionFlag = "version"

// ErrVersion is returned by Parse when --version was given: the caller
// prints the version (fleet.Main does, for every binary) and exits 0.
var ErrVersion = errors.New("--version requested")

// RegisterVersion adds --version to fs (Common.Register does).
func RegisterVersion(fs *flag.FlagSet) {
	fs.Bool(VersionFlag, false, "print the version, revision and Go version, and exit")
}

// IsVersionArg reports whether arg is --version (or -version), for a
// binary that looks at its first argument before parsing flags.
func IsVersionArg(arg string) bool { return arg == "--"+VersionFlag || arg == "-"+VersionFlag }

// noEnv are the flags without an environment twin.
func noEnv(name string) bool { return name == VersionFlag }

// Parse parses args into fs, then fills every flag not given on the command
// line from its environment twin. Flags win over the environment. A value
// that does not parse is an error wrapping ErrInvalid; -h is flag.ErrHelp;
// --version (when fs has it) is ErrVersion.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return invalid.Wrap("", err)
	}
	if f := fs.Lookup(VersionFlag); f != nil && f.Value.String() == "true" {
		return ErrVersion
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil || noEnv(f.Name) {
			return
		}
		if v := getenv(EnvName(f.Name)); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = invalid.Errorf("", "%s=%q: %w", EnvName(f.Name), v, e)
			}
		}
	})
	return err
}

// EnvNames lists the environment variables fs understands, sorted.
func EnvNames(fs *flag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		if !noEnv(f.Name) {
			names = append(names, EnvName(f.Name))
		}
	})
	sort.Strings(names)
	return names
}

// Usage prints fs's flags with their environment twins.
func Usage(fs *flag.FlagSet, what string) func() {
	return func() {
		out := fs.Output()
		fmt.Fprintf(out, "%s\n\nFlags (each also read from its environment variable):\n", what)
		fs.VisitAll(func(f *flag.Flag) {
			if noEnv(f.Name) {
				fmt.Fprintf(out, "  --%s\n      %s\n", f.Name, f.Usage)
				return
			}
			def := ""
			if f.DefValue != "" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(out, "  --%s  [%s]%s\n      %s\n", f.Name, EnvName(f.Name), def, f.Usage)
		})
	}
}

// Getenv is os.Getenv, named for injection in tests.
var Getenv = os.Getenv
