// Package sandboxtest wraps package sandbox for tests: what fails fails the
// test, and what starts is stopped at its end.
package sandboxtest

import (
	"testing"

	"github.com/pushfleet/pushfleet/internal/sandbox"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// Start starts the five fakes; they stop at the end of the test.
func Start(tb testing.TB) *sandbox.Providers {
	tb.Helper()
	p, err := sandbox.Start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Close)
	return p
}

// NewSender builds a sender for platform pl against its fake; it is closed at
// the end of the test.
func NewSender(tb testing.TB, p *sandbox.Providers, pl events.Platform, c sandbox.SenderConfig) sandbox.SenderCloser {
	tb.Helper()
	s, err := p.NewSender(pl, c)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// AppsFile writes the apps file for the fakes in dir and returns its path.
func AppsFile(tb testing.TB, p *sandbox.Providers, dir string) string {
	tb.Helper()
	path, err := p.AppsFile(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

// SenderArgs are the flags that point platform pl's sender binary at its
// fake, with the apps file.
func SenderArgs(tb testing.TB, p *sandbox.Providers, pl events.Platform, dir, appsFile string) []string {
	tb.Helper()
	args, err := p.SenderArgs(pl, dir, appsFile)
	if err != nil {
		tb.Fatal(err)
	}
	return args
}
