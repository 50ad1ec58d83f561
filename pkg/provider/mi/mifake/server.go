package mifake

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
)

// DeadPrefix marks dead regids by convention (shared by every pushfleet
// fake): a regid starting with "dead" is reported invalid even if never
// passed to SetDead, so the sandbox can exercise invalid-token feedback.
const DeadPrefix = "dead"

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
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	opts  Options
	ln    net.Listener
	srv   *http.Server
	url   string
	pool  *x509.CertPool
	done  chan struct{}
	close sync.Once

	hmu     sync.Mutex // guards closing against wg.Add
	closing bool
	wg      sync.WaitGroup // handlers

	mu        sync.Mutex
	apps      map[string]string // secret → package
	dead      map[string]bool
	delivered map[string]int
	faults    []fault
	latency   time.Duration
	jitter    time.Duration
	invalid   []string // the feedback API's queue
	last      lastRequest
	dayAcked  int
	arrivals  []time.Time // of every message request, in order

	seq         atomic.Int64
	requests    atomic.Int64
	feedback    atomic.Int64
	deliveries  atomic.Int64
	inFlight    atomic.Int64
	maxInFlight atomic.Int64
	conns       atomic.Int64
	open        atomic.Int64
}

type lastRequest struct {
	path string
	form url.Values
}

// Start starts a fake on 127.0.0.1 with a fresh self-signed certificate.
func Start(opts Options) (*Server, error) {
	opts.MaxRegIDs = cmp.Or(opts.MaxRegIDs, DefaultMaxRegIDs)
	opts.MaxPayloadBytes = cmp.Or(opts.MaxPayloadBytes, DefaultMaxPayloadBytes)
	opts.DayQuota = cmp.Or(opts.DayQuota, DefaultDayQuota)
	opts.Logger = cmp.Or(opts.Logger, slog.New(slog.DiscardHandler))
	cert, pool, err := fakeserver.SelfSigned("mifake")
	if err != nil {
		return nil, fmt.Errorf("mifake: certificate: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("mifake: listen: %w", err)
	}
	s := &Server{
		opts: opts, ln: ln, pool: pool, url: "https://" + ln.Addr().String(), done: make(chan struct{}),
		apps: map[string]string{}, dead: map[string]bool{}, delivered: map[string]int{}, jitter: opts.Jitter,
	}
	s.srv = &http.Server{
		Handler:           s.routes(),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ConnState:         s.connState,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug),
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: opts.MaxConcurrentStreams},
	}
	if opts.HTTP1Only {
		s.srv.Protocols = new(http.Protocols)
		s.srv.Protocols.SetHTTP1(true)
	}
	go func() {
		if err := s.srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			opts.Logger.Error("mifake stopped", "err", err)
		}
	}()
	return s, nil
}

// URL is the base URL of the fake (https://127.0.0.1:port), for both the
// push API and the feedback API.
func (s *Server) URL() string { return s.url }

// CertPool trusts the fake's certificate.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// Close stops the fake, cuts its connections and waits for its handlers.
func (s *Server) Close() {
	s.close.Do(func() {
		s.hmu.Lock()
		s.closing = true
		s.hmu.Unlock()
		close(s.done)
		_ = s.srv.Close()
		s.wg.Wait()
	})
}

func (s *Server) connState(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		s.conns.Add(1)
		s.open.Add(1)
	case http.StateClosed, http.StateHijacked:
		s.open.Add(-1)
	}
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
	return s.track(mux)
}

// track counts requests in flight (and the most seen) and lets Close wait
// for handlers.
func (s *Server) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hmu.Lock()
		if s.closing {
			s.hmu.Unlock()
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		s.wg.Add(1)
		s.hmu.Unlock()
		defer s.wg.Done()
		n := s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		for {
			m := s.maxInFlight.Load()
			if n <= m || s.maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		next.ServeHTTP(w, r)
	})
}
