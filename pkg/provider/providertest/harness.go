package providertest

import (
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
)

// Failure is a fault a fake can inject; the fakes declare it in
// fakeserver, production code that must not import this package.
type Failure = fakeserver.Failure

// The faults every fake supports (see fakeserver for what each answers).
const (
	RateLimited    = fakeserver.RateLimited
	Unavailable    = fakeserver.Unavailable
	Internal       = fakeserver.Internal
	AuthFailure    = fakeserver.AuthFailure
	BadRequest     = fakeserver.BadRequest
	DropConnection = fakeserver.DropConnection
)

// Fake is the control surface of a provider fake that the suite drives.
type Fake = fakeserver.Control

// Features declares what a provider guarantees, so checks that do not apply
// are skipped with a reason rather than failed.
type Features struct {
	// MaxBatch is the most tokens one job may carry for this provider.
	MaxBatch int
	// RetryAfter: the provider's rate-limit answer carries a wait time.
	RetryAfter bool
	// MaxPayload is the provider's payload limit in bytes (0: not checked).
	MaxPayload int
}

// Harness is what a provider's test hands the suite.
type Harness struct {
	Platform events.Platform
	// App is configured in Sender against Fake.
	App    string
	Sender provider.Sender
	// Serial, if set, is a sender for App against Fake that makes at most
	// one provider request at a time (a pool of one), for the checks that
	// need a backlog. Nil skips them.
	Serial provider.Sender
	Fake   Fake
	// Token returns the i-th distinct well-formed token for this provider.
	Token    func(i int) string
	Features Features
}
