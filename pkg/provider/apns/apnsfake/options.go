package apnsfake

import (
	"cmp"
	"crypto/x509"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
)

// Options configure a fake. The zero value is a usable fake.
type Options struct {
	// ClientCAs, if set, also verifies client certificates (certificate
	// auth), besides the fake's own CA that issues SandboxCertApp's.
	ClientCAs *x509.CertPool
	// MaxConcurrentStreams is advertised in the HTTP/2 SETTINGS of every
	// connection (default 1000, like APNs after a valid request).
	MaxConcurrentStreams int
	// MaxJWTsPerKey, when positive, answers 429 TooManyProviderTokenUpdates
	// to a request bearing a new JWT of a key that already used that many
	// distinct JWTs within JWTWindow (default 20m).
	MaxJWTsPerKey int
	JWTWindow     time.Duration
	// Wire, if set, counts the bytes and HTTP/2 frames clients send and
	// receive (see fakeserver.WireCounter); off by default.
	Wire *fakeserver.WireCounter
}

func (o Options) withDefaults() Options {
	o.MaxConcurrentStreams = cmp.Or(o.MaxConcurrentStreams, 1000)
	o.JWTWindow = cmp.Or(o.JWTWindow, 20*time.Minute)
	return o
}
