package fcmfake

import (
	"cmp"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
)

// Options configure a fake. The zero value is a fake without projects and
// without quota.
type Options struct {
	// Projects are registered at start; SandboxApp and AddProject add more.
	Projects []string
	// Quota, when positive, is how many messages each project may send per
	// QuotaWindow (a token bucket refilled continuously); beyond it the fake
	// answers 429 QUOTA_EXCEEDED with Retry-After.
	Quota int
	// QuotaWindow is the quota's window. Default one minute.
	QuotaWindow time.Duration
	// AccessTokenTTL is the lifetime of issued access tokens. Default one hour.
	AccessTokenTTL time.Duration
	// KeepMessages keeps the last message sent to each token (LastMessage).
	KeepMessages bool
	// Logger receives the fake's own diagnostics. Nil discards them.
	Logger *slog.Logger
}

// Server is a running fake. It is safe for concurrent use.
type Server struct {
	srv     *http.Server
	url     string
	pool    *x509.CertPool
	opts    Options
	log     *slog.Logger
	closing chan struct{}
	once    sync.Once

	// hmu guards stopped against handlers.Add; Close waits for handlers.
	hmu      sync.Mutex
	stopped  bool
	handlers sync.WaitGroup

	cmu   sync.Mutex
	conns map[net.Conn]struct{} // open client connections

	mu        sync.Mutex
	projects  map[string]*quotaBucket // nil bucket: no quota
	accounts  map[string]*account     // by client_email
	grants    map[string]grant        // by access token
	dead      map[string]bool
	foreign   map[string]bool
	malformed map[string]bool
	delivered map[string]int
	messages  map[string]json.RawMessage
	fail      injected
	tokenFail injectedToken
	latency   time.Duration
	arrivals  []time.Time // of every send request, in order

	sendRequests  atomic.Int64
	tokenRequests atomic.Int64
	connections   atomic.Int64
	deliveredAll  atomic.Int64
	messageSeq    atomic.Int64
}

// account is a service account and the public keys it may sign with.
type account struct {
	email     string
	projectID string
	keys      map[string]*rsa.PublicKey // by private_key_id
}

// grant is an issued access token.
type grant struct {
	email     string
	projectID string
	expires   time.Time
}

// injected is a pending FailNext.
type injected struct {
	n          int
	failure    fakeserver.Failure
	retryAfter time.Duration
}

// injectedToken is a pending FailTokenRequests.
type injectedToken struct {
	n      int
	status int
}

// Start starts a fake on 127.0.0.1 with TLS and HTTP/2.
func Start(opts Options) (*Server, error) {
	if opts.Quota < 0 {
		return nil, errors.New("fcmfake: Options.Quota must not be negative")
	}
	if opts.QuotaWindow <= 0 {
		opts.QuotaWindow = time.Minute
	}
	if opts.AccessTokenTTL <= 0 {
		opts.AccessTokenTTL = time.Hour
	}
	log := opts.Logger
	log = cmp.Or(log, slog.New(slog.DiscardHandler))
	s := &Server{
		opts:      opts,
		log:       log.With("component", "fcmfake"),
		closing:   make(chan struct{}),
		projects:  map[string]*quotaBucket{},
		accounts:  map[string]*account{},
		grants:    map[string]grant{},
		dead:      map[string]bool{},
		foreign:   map[string]bool{},
		malformed: map[string]bool{},
		delivered: map[string]int{},
		messages:  map[string]json.RawMessage{},
	}
	for _, p := range opts.Projects {
		s.AddProject(p)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/projects/{project}/messages:send", s.handleSend)
	mux.HandleFunc("POST /token", s.handleToken)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, apiError{code: http.StatusNotFound, status: "NOT_FOUND", message: "Requested entity was not found."})
	})
	cert, pool, err := fakeserver.SelfSigned("fcmfake")
	if err != nil {
		return nil, fmt.Errorf("fcmfake: certificate: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fcmfake: listen: %w", err)
	}
	s.url, s.pool, s.conns = "https://"+ln.Addr().String(), pool, map[net.Conn]struct{}{}
	s.srv = &http.Server{
		Handler:           s.track(mux),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ConnState:         s.connState,
	}
	go func() {
		if err := s.srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("fcmfake stopped", "err", err)
		}
	}()
	return s, nil
}

// URL is the fake's base URL (https://127.0.0.1:port).
func (s *Server) URL() string { return s.url }

// Endpoint is the FCM v1 base URL to configure in fcm.Config.Endpoint.
func (s *Server) Endpoint() string { return s.url + "/v1" }

// TokenURL is the OAuth token endpoint written into service accounts.
func (s *Server) TokenURL() string { return s.url + "/token" }

// CertPool trusts the fake's self-signed certificate.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// SenderConfig returns base with Endpoint and RootCAs pointing at the fake.
func (s *Server) SenderConfig(base fcm.Config) fcm.Config {
	base.Endpoint = s.Endpoint()
	base.RootCAs = s.CertPool()
	return base
}

// Close stops the fake, ending any answer still waiting on SetLatency, cuts
// its connections and waits for its handlers to return.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closing)
		s.hmu.Lock()
		s.stopped = true
		s.hmu.Unlock()
		_ = s.srv.Close()
		s.handlers.Wait()
	})
}

// CloseClientConnections closes every open client connection at once, the
// way a load balancer restart would.
func (s *Server) CloseClientConnections() {
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
		s.connections.Add(1)
		s.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	}
}

// track lets Close wait for the handlers running and refuses new requests
// once it has begun.
func (s *Server) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hmu.Lock()
		if s.stopped {
			s.hmu.Unlock()
			writeError(w, apiError{code: http.StatusServiceUnavailable, status: "UNAVAILABLE", message: "The service is currently unavailable."})
			return
		}
		s.handlers.Add(1)
		s.hmu.Unlock()
		defer s.handlers.Done()
		next.ServeHTTP(w, r)
	})
}

// readBody reads at most limit bytes of r's body; larger bodies fail.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errors.New("request body too large")
	}
	return b, nil
}
