package fcmfake

import (
	"cmp"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
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
	// Wire, if set, counts the HTTP/2 traffic (see fakeserver.WireCounter).
	Wire *fakeserver.WireCounter
}

// Server is a running fake. It is safe for concurrent use.
type Server struct {
	*fakeserver.Server // listener, TLS, HTTP/2, shutdown, connections

	opts Options
	log  *slog.Logger

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
	base, err := fakeserver.Listen("fcmfake")
	if err != nil {
		return nil, err
	}
	s := &Server{
		Server:    base,
		opts:      opts,
		log:       log.With("component", "fcmfake"),
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
	base.Serve(mux, fakeserver.ServeOptions{Logger: s.log, Wire: opts.Wire, Refuse: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, apiError{code: http.StatusServiceUnavailable, status: "UNAVAILABLE", message: "The service is currently unavailable."})
	})})
	return s, nil
}

// Endpoint is the FCM v1 base URL to configure in fcm.Config.Endpoint.
func (s *Server) Endpoint() string { return s.URL() + "/v1" }

// TokenURL is the OAuth token endpoint written into service accounts.
func (s *Server) TokenURL() string { return s.URL() + "/token" }

// SenderConfig returns base with Endpoint and RootCAs pointing at the fake.
func (s *Server) SenderConfig(base fcm.Config) fcm.Config {
	base.Endpoint = s.Endpoint()
	base.RootCAs = s.CertPool()
	return base
}

// CloseClientConnections closes every open client connection at once, the
// way a load balancer restart would.
func (s *Server) CloseClientConnections() { s.CloseConnections() }

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
