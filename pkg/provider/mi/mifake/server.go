package mifake

import (
	"cmp"
	"log/slog"
	"net/http"
	"net/url"
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
	DefaultMaxRegIDs       = 1000
	DefaultMaxPayloadBytes = 4096
	DefaultDayQuota        = 50000
	feedbackPage           = 1000
)

// Options configure a fake. Zero values take the defaults.
type Options struct {
	// HTTP1Only disables HTTP/2 (ALPN offers http/1.1 only).
	HTTP1Only bool
	// MaxConcurrentStreams is the HTTP/2 per-connection stream limit
	// (0: Go's default, 250).
	MaxConcurrentStreams int
	// MaxRegIDs caps targets per request (default 1000); more is code 10017.
	MaxRegIDs int
	// MaxPayloadBytes caps the payload field (default 4096; negative: off).
	MaxPayloadBytes int
	// DayQuota is reported as data.day_quota (default 50000; not enforced).
	DayQuota int
	// Jitter adds a random delay in [0, Jitter) to every answer, so
	// concurrent answers come back out of order. SetJitter changes it.
	Jitter time.Duration
	// Logger receives the HTTP server's errors; nil discards them.
	Logger *slog.Logger
	// Wire, if set, counts the HTTP/2 traffic (see fakeserver.WireCounter).
	Wire *fakeserver.WireCounter
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	*fakeserver.Server // listener, TLS, HTTP/2, shutdown, connection counts
	fakeserver.Ledger  // dead tokens, deliveries, arrivals, latency

	opts Options

	mu       sync.Mutex
	apps     map[string]string // secret → package
	faults   []fault
	jitter   time.Duration
	invalid  []string // the feedback API's queue
	hold     *hold    // HoldAnswers' gate; nil: none
	last     lastRequest
	dayAcked int

	seq      atomic.Int64
	feedback atomic.Int64
}

type lastRequest struct {
	path string
	form url.Values
}

// Start starts a fake on 127.0.0.1 with a fresh self-signed certificate.
// URL() serves both the push API and the feedback API.
func Start(opts Options) (*Server, error) {
	opts.MaxRegIDs = cmp.Or(opts.MaxRegIDs, DefaultMaxRegIDs)
	opts.MaxPayloadBytes = cmp.Or(opts.MaxPayloadBytes, DefaultMaxPayloadBytes)
	opts.DayQuota = cmp.Or(opts.DayQuota, DefaultDayQuota)
	opts.Logger = cmp.Or(opts.Logger, slog.New(slog.DiscardHandler))
	base, err := fakeserver.Listen("mifake")
	if err != nil {
		return nil, err
	}
	s := &Server{
		Server: base, opts: opts,
		apps: map[string]string{}, jitter: opts.Jitter,
	}
	base.Serve(s.routes(), fakeserver.ServeOptions{HTTP1Only: opts.HTTP1Only,
		MaxConcurrentStreams: opts.MaxConcurrentStreams, Logger: opts.Logger, Wire: opts.Wire})
	return s, nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, v := range []string{"v2", "v3", "v4"} {
		mux.HandleFunc("POST /"+v+"/message/regid", s.message(targetRegID))
	}
	for _, v := range []string{"v2", "v3"} {
		mux.HandleFunc("POST /"+v+"/message/alias", s.message(targetAlias))
		mux.HandleFunc("POST /"+v+"/message/topic", s.message(targetTopic))
		mux.HandleFunc("POST /"+v+"/message/all", s.message(targetAll))
	}
	mux.HandleFunc("GET /v1/feedback/fetch_invalid_regids", s.fetchInvalid)
	return mux
}
