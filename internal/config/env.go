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

// Parse parses args into fs, then fills every flag not given on the command
// line from its environment twin. Flags win over the environment. A value
// that does not parse is an error wrapping ErrInvalid; -h is flag.ErrHelp.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return invalid.Wrap("", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
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
	fs.VisitAll(func(f *flag.Flag) { names = append(names, EnvName(f.Name)) })
	sort.Strings(names)
	return names
}

// Usage prints fs's flags with their environment twins.
func Usage(fs *flag.FlagSet, what string) func() {
	return func() {
		out := fs.Output()
		fmt.Fprintf(out, "%s\n\nFlags (each also read from its environment variable):\n", what)
		fs.VisitAll(func(f *flag.Flag) {
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
