package hmsfake

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
)

// DeadPrefix marks dead tokens by convention (shared by every pushfleet
// fake): a token starting with "dead" is reported invalid even if never
// passed to SetDead, so the sandbox can exercise invalid-token feedback.
const DeadPrefix = "dead"

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
	opts  Options
	ln    net.Listener
	srv   *http.Server
	url   string
	pool  *x509.CertPool
	done  chan struct{}
	close sync.Once

	hmu     sync.Mutex // guards closing against wg.Add
	closing bool
	wg      sync.WaitGroup

	mu          sync.Mutex
	apps        map[string]*appEntry // by app ID
	clients     map[string]string    // client ID → app ID
	issued      map[string]issued    // access token → its app and expiry
	dead        map[string]bool
	delivered   map[string]int
	faults      []fault
	tokenFaults []fault
	latency     time.Duration
	arrivals    []time.Time
	last        []byte

	seq         atomic.Int64
	requests    atomic.Int64
	tokenReqs   atomic.Int64
	deliveries  atomic.Int64
	conns       atomic.Int64
	open        atomic.Int64
	inFlight    atomic.Int64
	maxInFlight atomic.Int64
}

type appEntry struct {
	clientID, secret string
}

type issued struct {
	appID string
	exp   time.Time
}

// Start starts a fake on 127.0.0.1 with a fresh self-signed certificate.
func Start(opts Options) (*Server, error) {
	opts.TokenLifetime = cmp.Or(opts.TokenLifetime, DefaultTokenLifetime)
	opts.MaxTokens = cmp.Or(opts.MaxTokens, DefaultMaxTokens)
	opts.MaxMessageBytes = cmp.Or(opts.MaxMessageBytes, DefaultMaxMessageBytes)
	opts.Logger = cmp.Or(opts.Logger, slog.New(slog.DiscardHandler))
	cert, pool, err := fakeserver.SelfSigned("hmsfake")
	if err != nil {
		return nil, fmt.Errorf("hmsfake: certificate: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("hmsfake: listen: %w", err)
	}
	s := &Server{
		opts: opts, ln: ln, pool: pool, url: "https://" + ln.Addr().String(), done: make(chan struct{}),
		apps: map[string]*appEntry{}, clients: map[string]string{}, issued: map[string]issued{},
		dead: map[string]bool{}, delivered: map[string]int{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathToken, s.token)
	mux.HandleFunc(sendPattern, s.send)
	s.srv = &http.Server{
		Handler:           s.track(mux),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ConnState:         s.connState,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug),
	}
	if opts.HTTP1Only {
		s.srv.Protocols = new(http.Protocols)
		s.srv.Protocols.SetHTTP1(true)
	}
	go func() {
		if err := s.srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			opts.Logger.Error("hmsfake stopped", "err", err)
		}
	}()
	return s, nil
}

// URL is the fake's base URL (https://127.0.0.1:port), for both the push
// API and the token endpoint (URL() + PathToken).
func (s *Server) URL() string { return s.url }

// TokenURL is the fake's OAuth token endpoint.
func (s *Server) TokenURL() string { return s.url + PathToken }

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

// track counts requests in flight and lets Close wait for handlers.
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
