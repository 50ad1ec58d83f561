package apnsfake

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider/apns"
)

// Server is a running fake APNs. Its methods are safe for concurrent use.
type Server struct {
	opts     Options
	srv      *http.Server
	url      string
	serverCA *authority
	clientCA *authority
	started  time.Time
	done     chan struct{}

	latency atomic.Int64 // time.Duration
	// holdAfter > 0 holds every answer once that many were delivered,
	// until held is closed by Release.
	holdAfter atomic.Int64
	held      chan struct{} // guarded by mu
	resets    atomic.Int64
	requests  atomic.Int64
	total     atomic.Int64 // deliveries
	inFlight  atomic.Int64
	peak      atomic.Int64 // high-water mark of inFlight
	accepted  atomic.Int64

	mu         sync.Mutex
	conns      map[net.Conn]struct{}
	faults     []fault
	keys       map[string]*signingKey // by key id
	jwts       map[string]*jwtEntry   // verified JWTs, by the compact JWT
	certs      map[*x509.Certificate]bool
	dead       map[string]time.Time
	topicOf    map[string]string
	deliveries map[string]int
	last       map[string]Request
	arrivals   []time.Time // of every request, in order
}

type connKey struct{}

// Start runs a fake on a random 127.0.0.1 port with a fresh self-signed
// certificate; trust it with CertPool.
func Start(opts Options) (*Server, error) {
	opts = opts.withDefaults()
	serverCA, err := newAuthority("apnsfake server CA")
	if err != nil {
		return nil, err
	}
	clientCA, err := newAuthority("apnsfake client CA")
	if err != nil {
		return nil, err
	}
	cert, err := serverCA.serverCert()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts: opts, serverCA: serverCA, clientCA: clientCA, started: time.Now(),
		url: "https://" + ln.Addr().String(), done: make(chan struct{}),
		conns: map[net.Conn]struct{}{}, keys: map[string]*signingKey{}, jwts: map[string]*jwtEntry{},
		certs: map[*x509.Certificate]bool{}, dead: map[string]time.Time{}, topicOf: map[string]string{},
		deliveries: map[string]int{}, last: map[string]Request{},
	}
	var protocols http.Protocols
	protocols.SetHTTP2(true) // APNs speaks HTTP/2 only
	s.srv = &http.Server{
		Handler:   http.HandlerFunc(s.serve),
		Protocols: &protocols,
		HTTP2:     &http.HTTP2Config{MaxConcurrentStreams: opts.MaxConcurrentStreams},
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
			// Certificates are checked per request so that a bad one gets
			// APNs' 403 BadCertificate rather than a failed handshake.
			ClientAuth: tls.RequestClientCert,
		},
		ConnState: s.trackConn,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
		ErrorLog: discardLog(),
	}
	if opts.Wire != nil {
		opts.Wire.Instrument(s.srv, opts.MaxConcurrentStreams)
		ln = opts.Wire.Listener(ln)
	}
	go func() {
		defer close(s.done)
		if err := s.srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.srv.ErrorLog.Print(err)
		}
	}()
	return s, nil
}

// URL is the fake's base URL, https://127.0.0.1:port.
func (s *Server) URL() string { return s.url }

// CertPool trusts the fake's server certificate.
func (s *Server) CertPool() *x509.CertPool { return s.serverCA.pool() }

// CertPEM is the fake's CA certificate in PEM, for clients in other
// processes.
func (s *Server) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.serverCA.cert.Raw})
}

// Config is an apns.Config whose both environments point at the fake.
func (s *Server) Config() apns.Config {
	return apns.Config{ProductionURL: s.url, SandboxURL: s.url, RootCAs: s.CertPool()}
}

// Close stops the fake and closes every connection.
func (s *Server) Close() {
	s.srv.Close()
	<-s.done
}

func (s *Server) trackConn(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st {
	case http.StateNew:
		s.conns[c] = struct{}{}
		s.accepted.Add(1)
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	}
}

// CloseConnections closes every client connection at once, as a crashed
// APNs front end would: requests in flight get no answer.
func (s *Server) CloseConnections() {
	s.mu.Lock()
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}
