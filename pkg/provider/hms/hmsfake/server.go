package hmsfake

import (
	"cmp"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
)

// DeadPrefix marks dead tokens by convention (shared by every pushfleet
// fake): see fakeserver.DeadPrefix.
const DeadPrefix = fakeserver.DeadPrefix

// Defaults applied by Start to zero Options.
const (
	DefaultTokenLifetime   = time.Hour
	DefaultMaxTokens       = 1000
	DefaultMaxMessageBytes = 4096
)

// Paths served.
const (
	PathToken   = "/oauth2/v3/token"
	sendPattern = "POST /v1/{appId}/messages:send"
)

// Options configure a fake. Zero values take the defaults.
type Options struct {
	// HTTP1Only disables HTTP/2 (ALPN offers http/1.1 only).
	HTTP1Only bool
	// TokenLifetime is the expires_in of issued access tokens (default 1h).
	TokenLifetime time.Duration
	// MaxTokens caps tokens per request (default 1000); more is 80300010.
	MaxTokens int
	// MaxMessageBytes caps the message without its tokens (default 4096;
	// negative: unchecked); more is 80300008.
	MaxMessageBytes int
	// Logger receives the HTTP server's errors; nil discards them.
	Logger *slog.Logger
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	*fakeserver.Server // listener, TLS, HTTP/2, shutdown, connection counts
	fakeserver.Ledger  // dead tokens, deliveries, arrivals, latency

	opts Options

	mu          sync.Mutex
	apps        map[string]*appEntry // by app ID
	clients     map[string]string    // client ID → app ID
	issued      map[string]issued    // access token → its app and expiry
	faults      []fault
	tokenFaults []fault
	last        []byte

	seq       atomic.Int64
	tokenReqs atomic.Int64
}

type appEntry struct {
	clientID, secret string
}

type issued struct {
	appID string
	exp   time.Time
}

// Start starts a fake on 127.0.0.1 with a fresh self-signed certificate.
// URL() serves both the push API and the token endpoint (URL() + PathToken).
func Start(opts Options) (*Server, error) {
	opts.TokenLifetime = cmp.Or(opts.TokenLifetime, DefaultTokenLifetime)
	opts.MaxTokens = cmp.Or(opts.MaxTokens, DefaultMaxTokens)
	opts.MaxMessageBytes = cmp.Or(opts.MaxMessageBytes, DefaultMaxMessageBytes)
	opts.Logger = cmp.Or(opts.Logger, slog.New(slog.DiscardHandler))
	base, err := fakeserver.Listen("hmsfake")
	if err != nil {
		return nil, err
	}
	s := &Server{
		Server: base, opts: opts,
		apps: map[string]*appEntry{}, clients: map[string]string{}, issued: map[string]issued{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathToken, s.token)
	mux.HandleFunc(sendPattern, s.send)
	base.Serve(mux, fakeserver.ServeOptions{HTTP1Only: opts.HTTP1Only, Logger: opts.Logger})
	return s, nil
}

// TokenURL is the fake's OAuth token endpoint.
func (s *Server) TokenURL() string { return s.URL() + PathToken }
