package allinone

import (
	"flag"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The defaults README.md's configuration table gives are the flags'
// defaults, which are the owning packages' constants: the numbers and
// durations of each row, in the order of its flags.
func TestReadmeDefaultsAreTheFlags(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Skip("README.md:", err)
	}
	fs := flag.NewFlagSet("pushfleet", flag.ContinueOnError)
	var o Options
	o.Register(fs)
	flagName := regexp.MustCompile("`--([a-z0-9-]+)")
	checked := 0
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `--") {
			continue
		}
		cols := strings.Split(line, "|")
		if len(cols) < 4 {
			continue
		}
		def := strings.TrimSpace(cols[2])
		if def == "" || strings.ContainsAny(def, "(`") {
			continue // no default, or one that differs by binary
		}
		var names []string
		for _, m := range flagName.FindAllStringSubmatch(cols[1], -1) {
			names = append(names, m[1])
		}
		values := regexp.MustCompile(` [/×] `).Split(def, -1)
		if !allNumbers(values) {
			continue // a description, not a value
		}
		if len(values) != len(names) {
			t.Errorf("README row %q: %d defaults for %d flags", strings.TrimSpace(cols[1]), len(values), len(names))
			continue
		}
		for i, name := range names {
			f := fs.Lookup(name)
			if f == nil {
				t.Errorf("README names --%s, which the all-in-one does not have", name)
				continue
			}
			if !sameDefault(values[i], f.DefValue) {
				t.Errorf("README gives --%s the default %s, the flag has %s", name, values[i], f.DefValue)
			}
			checked++
		}
	}
	if checked < 10 {
		t.Fatalf("only %d defaults found in README.md's configuration table", checked)
	}
}

// allNumbers tells whether every value is a number or a duration.
func allNumbers(values []string) bool {
	for _, v := range values {
		if _, err := strconv.Atoi(v); err == nil {
			continue
		}
		if _, err := time.ParseDuration(v); err != nil {
			return false
		}
	}
	return true
}

func sameDefault(doc, def string) bool {
	if dd, err := time.ParseDuration(doc); err == nil && strings.ContainsAny(doc, "hms") {
		fd, err := time.ParseDuration(def)
		return err == nil && dd == fd
	}
	if dn, err := strconv.Atoi(doc); err == nil {
		fn, err := strconv.Atoi(def)
		return err == nil && dn == fn
	}
	return doc == def
}
