package fakeserver

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
)

// Server is the HTTPS server a fake runs on: a loopback listener with a
// fresh self-signed certificate, HTTP/2 unless told otherwise, counters of
// connections and requests in flight, and a Close that refuses new requests,
// cuts the connections and waits for the handlers. A fake embeds it, so its
// URL, CertPool, Close, MaxInFlight, Connections and OpenConnections are
// this Server's.
type Server struct {
	name   string
	refuse http.Handler
	ln     net.Listener
	srv    *http.Server
	url    string
	cert   tls.Certificate
	pool   *x509.CertPool
	done   chan struct{}
	close  sync.Once

	hmu     sync.Mutex // guards closing against wg.Add
	closing bool
	wg      sync.WaitGroup // handlers

	cmu   sync.Mutex
	conns map[net.Conn]struct{} // open client connections

	inFlight    atomic.Int64
	maxInFlight atomic.Int64
	accepted    atomic.Int64
	open        atomic.Int64
}

// ServeOptions configure Serve.
type ServeOptions struct {
	// HTTP1Only disables HTTP/2 (ALPN offers http/1.1 only).
	HTTP1Only bool
	// MaxConcurrentStreams is the HTTP/2 per-connection stream limit
	// (0: Go's default, 250).
	MaxConcurrentStreams int
	// Logger receives the HTTP server's errors; nil discards them.
	Logger *slog.Logger
	// Refuse answers the requests that arrive once Close has begun (nil:
	// a plain-text 503).
	Refuse http.Handler
	// Wire, if set, counts the HTTP/2 traffic (see WireCounter).
	Wire *WireCounter
}

// Listen makes a certificate named name (the fake's package name, also the
// prefix of its errors) and listens on 127.0.0.1. Serve starts serving.
func Listen(name string) (*Server, error) {
	cert, pool, err := SelfSigned(name)
	if err != nil {
		return nil, fmt.Errorf("%s: certificate: %w", name, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("%s: listen: %w", name, err)
	}
	return &Server{name: name, ln: ln, cert: cert, pool: pool, url: "https://" + ln.Addr().String(),
		done: make(chan struct{}), conns: map[net.Conn]struct{}{}}, nil
}

// Serve serves h (wrapped by the in-flight tracking) in the background
// until Close.
func (s *Server) Serve(h http.Handler, o ServeOptions) {
	logger := cmp.Or(o.Logger, slog.New(slog.DiscardHandler))
	s.refuse = o.Refuse
	s.srv = &http.Server{
		Handler:           s.track(h),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{s.cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ConnState:         s.connState,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: o.MaxConcurrentStreams},
	}
	if o.HTTP1Only {
		s.srv.Protocols = new(http.Protocols)
		s.srv.Protocols.SetHTTP1(true)
	} else if o.Wire != nil {
		o.Wire.Instrument(s.srv, o.MaxConcurrentStreams)
	}
	if o.Wire != nil {
		s.ln = o.Wire.Listener(s.ln)
	}
	srv, ln := s.srv, s.ln
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error(s.name+" stopped", "err", err)
		}
	}()
}

// URL is the fake's base URL (https://127.0.0.1:port).
func (s *Server) URL() string { return s.url }

// CertPool trusts the fake's certificate.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// Done is closed when Close starts: a handler waiting (Delay) gives up.
func (s *Server) Done() <-chan struct{} { return s.done }

// Close stops the fake, cuts its connections and waits for its handlers.
func (s *Server) Close() {
	s.close.Do(func() {
		s.hmu.Lock()
		s.closing = true
		s.hmu.Unlock()
		close(s.done)
		if s.srv != nil {
			_ = s.srv.Close()
		} else {
			_ = s.ln.Close()
		}
		s.wg.Wait()
	})
}

// MaxInFlight is the most requests the fake was handling at one time.
func (s *Server) MaxInFlight() int { return int(s.maxInFlight.Load()) }

// Connections is the number of distinct connections accepted so far.
func (s *Server) Connections() int { return int(s.accepted.Load()) }

// OpenConnections is the number of connections open now.
func (s *Server) OpenConnections() int { return int(s.open.Load()) }

// CloseConnections closes every open client connection at once, the way
// a load balancer restart would: requests in flight get no answer.
func (s *Server) CloseConnections() {
	s.cmu.Lock()
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.cmu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

func (s *Server) connState(c net.Conn, st http.ConnState) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	switch st {
	case http.StateNew:
		s.accepted.Add(1)
		s.open.Add(1)
		s.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		s.open.Add(-1)
		delete(s.conns, c)
	}
}

// track counts requests in flight (and the most seen) and lets Close wait
// for handlers.
func (s *Server) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hmu.Lock()
		if s.closing {
			s.hmu.Unlock()
			if s.refuse != nil {
				s.refuse.ServeHTTP(w, r)
			} else {
				http.Error(w, "shutting down", http.StatusServiceUnavailable)
			}
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
