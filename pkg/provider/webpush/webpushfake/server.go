package webpushfake

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
)

// Defaults of Options.
const (
	// DefaultMaxBody is the body limit: a push service must accept 4096
	// bytes of payload (RFC 8030 section 7.2) and the big ones accept no
	// more; larger bodies answer 413.
	DefaultMaxBody = 4096
	// DefaultMaxJWTLife is RFC 8292 section 2's limit on a VAPID JWT's exp:
	// no more than 24 hours after the request.
	DefaultMaxJWTLife = 24 * time.Hour
)

// Options configure a fake push service.
type Options struct {
	// MaxBody is the largest encrypted body accepted (default 4096).
	MaxBody int
	// MaxJWTLife is the furthest a JWT's exp may be (default 24h).
	MaxJWTLife time.Duration
	// HTTP1Only serves HTTP/1.1 only (default: HTTP/2 offered by ALPN, as
	// the big push services do, HTTP/1.1 accepted).
	HTTP1Only bool
}

// Request is one push request the fake accepted, with its payload
// decrypted.
type Request struct {
	Token    string // the subscription's token
	Endpoint string
	Payload  []byte // decrypted
	BodySize int    // encrypted, as sent
	TTL      int
	Urgency  string // "" when absent
	Topic    string
	Proto    string // "HTTP/2.0" when the connection is HTTP/2
	JWT      string
	Subject  string
	Audience string
	Expiry   time.Time // the JWT's exp
	At       time.Time
}

// subscription is a push subscription the fake created: it holds the
// user agent's private half.
type subscription struct {
	id       string
	token    string
	endpoint string
	key      *ecdh.PrivateKey
	auth     []byte
	appKey   []byte // the applicationServerKey it is bound to
	dead     bool
}

type fault struct {
	status     int
	retryAfter time.Duration
	drop       bool
}

// Server is a running fake push service. Its methods are safe for
// concurrent use.
type Server struct {
	opts    Options
	srv     *http.Server
	url     string
	pool    *x509.CertPool
	done    chan struct{}
	closing chan struct{}
	latency atomic.Int64 // time.Duration
	nextID  atomic.Int64

	mu         sync.Mutex
	subs       map[string]*subscription // by endpoint path
	byToken    map[string]*subscription
	faults     []fault
	deliveries map[string]int
	requests   []Request
	arrivals   []time.Time
	conns      map[net.Conn]struct{}
}

var _ fakeserver.Control = (*Server)(nil)

type connKey struct{}

// Start runs a fake on a random 127.0.0.1 port, TLS with a fresh
// self-signed certificate (trust it with CertPool).
func Start(opts Options) (*Server, error) {
	if opts.MaxBody == 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.MaxJWTLife == 0 {
		opts.MaxJWTLife = DefaultMaxJWTLife
	}
	cert, pool, err := fakeserver.SelfSigned("webpushfake")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts: opts, url: "https://" + ln.Addr().String(), pool: pool,
		done: make(chan struct{}), closing: make(chan struct{}),
		subs: map[string]*subscription{}, byToken: map[string]*subscription{},
		deliveries: map[string]int{}, conns: map[net.Conn]struct{}{},
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(!opts.HTTP1Only)
	s.srv = &http.Server{
		Handler:   http.HandlerFunc(s.serve),
		Protocols: &protocols,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ConnState: s.trackConn,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.srv.ErrorLog.Print(err)
		}
	}()
	return s, nil
}

// URL is the fake's origin, https://127.0.0.1:port: the VAPID audience of
// its subscriptions.
func (s *Server) URL() string { return s.url }

// CertPool trusts the fake's certificate.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// Close stops the fake and closes every connection.
func (s *Server) Close() {
	select {
	case <-s.closing:
	default:
		close(s.closing)
	}
	s.srv.Close()
	<-s.done
}

// Subscribe creates a subscription bound to the VAPID public key
// appServerKey (65 bytes, as a page passes applicationServerKey to
// pushManager.subscribe) and returns its token: the subscription JSON with
// the public key and auth secret. The fake keeps the private key to
// decrypt what is pushed to it.
func (s *Server) Subscribe(appServerKey []byte) (string, error) {
	return s.subscribe(appServerKey, "push")
}

// SubscribeGone creates a subscription whose endpoint path starts with
// /gone/: it answers 410 Gone from the start, as an unsubscribed one does.
func (s *Server) SubscribeGone(appServerKey []byte) (string, error) {
	return s.subscribe(appServerKey, "gone")
}

func (s *Server) subscribe(appServerKey []byte, prefix string) (string, error) {
	if _, err := ecdh.P256().NewPublicKey(appServerKey); err != nil {
		return "", fmt.Errorf("webpushfake: application server key: %w", err)
	}
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	auth := make([]byte, 16)
	rand.Read(auth)
	var idb [12]byte
	rand.Read(idb[:])
	id := fmt.Sprintf("%d-%s", s.nextID.Add(1), base64.RawURLEncoding.EncodeToString(idb[:]))
	path := "/" + prefix + "/" + id
	sub := &subscription{
		id: id, endpoint: s.url + path, key: key, auth: auth,
		appKey: append([]byte(nil), appServerKey...),
	}
	// The canonical token of webpush.Token: endpoint, keys.p256dh, keys.auth.
	sub.token = fmt.Sprintf(`{"endpoint":%q,"keys":{"p256dh":%q,"auth":%q}}`, sub.endpoint,
		base64.RawURLEncoding.EncodeToString(key.PublicKey().Bytes()), base64.RawURLEncoding.EncodeToString(auth))
	s.mu.Lock()
	s.subs[path] = sub
	s.byToken[sub.token] = sub
	s.mu.Unlock()
	return sub.token, nil
}

// SetDead makes token's subscription answer 410 Gone (the user revoked
// permission or the browser dropped it). Unknown tokens are ignored.
func (s *Server) SetDead(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub := s.byToken[token]; sub != nil {
		sub.dead = true
	}
}

// FailNext makes the next n push requests fail with f:
//
//	RateLimited    429 Too Many Requests, Retry-After: retryAfter (if > 0)
//	Unavailable    503 Service Unavailable, Retry-After: retryAfter (if > 0)
//	Internal       500 Internal Server Error
//	AuthFailure    401 Unauthorized (VAPID rejected)
//	BadRequest     400 Bad Request
//	DropConnection the request's connection is closed, no answer
func (s *Server) FailNext(n int, f fakeserver.Failure, retryAfter time.Duration) {
	var ft fault
	switch f {
	case fakeserver.RateLimited:
		ft = fault{status: http.StatusTooManyRequests, retryAfter: retryAfter}
	case fakeserver.Unavailable:
		ft = fault{status: http.StatusServiceUnavailable, retryAfter: retryAfter}
	case fakeserver.Internal:
		ft = fault{status: http.StatusInternalServerError}
	case fakeserver.AuthFailure:
		ft = fault{status: http.StatusUnauthorized}
	case fakeserver.BadRequest:
		ft = fault{status: http.StatusBadRequest}
	case fakeserver.DropConnection:
		ft = fault{drop: true}
	default:
		panic("webpushfake: unknown failure " + f.String())
	}
	s.queue(n, ft)
}

// FailNextWith makes the next n push requests answer status (with
// Retry-After when retryAfter > 0): any answer, for classification tests.
func (s *Server) FailNextWith(n, status int, retryAfter time.Duration) {
	s.queue(n, fault{status: status, retryAfter: retryAfter})
}

func (s *Server) queue(n int, f fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

// SetLatency delays every answer by d (the request's end cuts it short).
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// Delivered is how many push messages token's subscription accepted.
func (s *Server) Delivered(token string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deliveries[token]
}

// DeliveredTotal is how many pushes the fake accepted, over every
// subscription.
func (s *Server) DeliveredTotal() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, c := range s.deliveries {
		n += int64(c)
	}
	return n
}

// RequestTimes is when each push request arrived, in order, whatever its
// answer.
func (s *Server) RequestTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.arrivals...)
}

// Requests are the accepted push requests, in order, payloads decrypted.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Connections is how many client connections are open.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) trackConn(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st {
	case http.StateNew:
		s.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	}
}

var topicPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// serve is the push resource: POST /push/<id> (RFC 8030 section 5).
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	s.mu.Lock()
	s.arrivals = append(s.arrivals, now)
	s.mu.Unlock()
	if !fakeserver.Delay(r.Context(), time.Duration(s.latency.Load()), s.closing) {
		return
	}
	if f, ok := s.takeFault(); ok {
		if f.drop {
			if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
				c.Close()
			}
			panic(http.ErrAbortHandler)
		}
		if f.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((f.retryAfter+time.Second-1)/time.Second)))
		}
		answer(w, f.status, "injected fault")
		return
	}
	if r.Method != http.MethodPost {
		answer(w, http.StatusMethodNotAllowed, "push resources take POST")
		return
	}
	s.mu.Lock()
	sub := s.subs[r.URL.Path]
	dead := sub != nil && sub.dead
	s.mu.Unlock()
	switch {
	case sub == nil:
		answer(w, http.StatusNotFound, "no such subscription")
		return
	case dead || strings.HasPrefix(r.URL.Path, "/gone/"):
		answer(w, http.StatusGone, "subscription expired or unsubscribed")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(s.opts.MaxBody)+1))
	if err != nil {
		return
	}
	if len(body) > s.opts.MaxBody {
		answer(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("payload over %d bytes", s.opts.MaxBody))
		return
	}
	v, aerr := verifyVAPID(r.Header.Get("Authorization"), s.url, now, s.opts.MaxJWTLife)
	if aerr != nil {
		answer(w, aerr.status, aerr.reason)
		return
	}
	if string(v.key) != string(sub.appKey) {
		answer(w, http.StatusForbidden, "k= is not the key this subscription was created with")
		return
	}
	ttlHeader := r.Header.Get("TTL")
	ttl, err := strconv.Atoi(ttlHeader)
	if err != nil || ttl < 0 || strings.TrimLeft(ttlHeader, "0123456789") != "" {
		answer(w, http.StatusBadRequest, "TTL header missing or not delta-seconds (RFC 8030 section 5.2)")
		return
	}
	urgency := r.Header.Get("Urgency")
	switch urgency {
	case "", "very-low", "low", "normal", "high":
	default:
		answer(w, http.StatusBadRequest, "Urgency must be very-low, low, normal or high (RFC 8030 section 5.3)")
		return
	}
	topic := r.Header.Get("Topic")
	if topic != "" && !topicPattern.MatchString(topic) {
		answer(w, http.StatusBadRequest, "Topic must be 1-32 base64url characters (RFC 8030 section 5.4)")
		return
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "aes128gcm" {
		answer(w, http.StatusBadRequest, fmt.Sprintf("Content-Encoding %q, want aes128gcm (RFC 8291 section 4)", ce))
		return
	}
	payload, err := decrypt(body, sub.key, sub.auth)
	if err != nil {
		answer(w, http.StatusBadRequest, "payload does not decrypt with the subscription's keys: "+err.Error())
		return
	}
	s.mu.Lock()
	s.deliveries[sub.token]++
	s.requests = append(s.requests, Request{
		Token: sub.token, Endpoint: sub.endpoint, Payload: payload, BodySize: len(body),
		TTL: ttl, Urgency: urgency, Topic: topic, Proto: r.Proto,
		JWT: v.jwt, Subject: v.subject, Audience: v.audience, Expiry: v.expiry, At: now,
	})
	n := len(s.requests)
	s.mu.Unlock()
	w.Header().Set("Location", fmt.Sprintf("%s/m/%s-%d", s.url, sub.id, n))
	w.Header().Set("TTL", strconv.Itoa(ttl))
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) takeFault() (fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return fault{}, false
	}
	f := s.faults[0]
	s.faults = s.faults[1:]
	return f, true
}

// answer writes an error the way Mozilla autopush does: a JSON body with
// code and message.
func answer(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"code": status, "error": http.StatusText(status), "message": message})
}
