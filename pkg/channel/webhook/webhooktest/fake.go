// Package webhooktest is a faithful fake webhook receiver for tests: an
// HTTPS server that verifies every request as docs/channels.md tells
// receivers to (its own implementation of the scheme, not webhook.Verify),
// counts deliveries, and answers what a test asks: 2xx, 410 for a dead
// target, 429 with Retry-After, 5xx, 401, 400, a dropped connection. It
// implements fakeserver.Control, so pkg/provider/providertest runs the
// conformance suite against the webhook sender.
package webhooktest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
)

// Received is one verified request.
type Received struct {
	At       time.Time
	Delivery string
	App      string
	Body     map[string]any
}

// Receiver is the fake. Every method is safe for concurrent use.
type Receiver struct {
	URL   string
	Roots *x509.CertPool
	// CAPEM is the receiver's certificate in PEM, for a --webhook-ca-file.
	CAPEM []byte
	// Secret is what the sender must sign with.
	Secret []byte
	// Tolerance is the timestamp window (default 5 minutes).
	Tolerance time.Duration

	srv  *httptest.Server
	stop chan struct{}

	mu        sync.Mutex
	dead      map[string]bool
	fail      []failure
	latency   time.Duration
	delivered map[string]int
	times     []time.Time
	received  []Received
	rejected  []string
	now       func() time.Time
}

type failure struct {
	f     fakeserver.Failure
	after time.Duration
}

// New starts a receiver for secret, shut down at the end of the test.
func New(t testing.TB, secret []byte) *Receiver {
	t.Helper()
	cert, pool, err := fakeserver.SelfSigned("webhook-receiver")
	if err != nil {
		t.Fatal(err)
	}
	r := &Receiver{Roots: pool, Secret: secret, Tolerance: 5 * time.Minute, stop: make(chan struct{}),
		dead: map[string]bool{}, delivered: map[string]int{}, now: time.Now}
	r.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	r.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	r.srv.StartTLS()
	r.URL = r.srv.URL + "/push"
	t.Cleanup(func() { close(r.stop); r.srv.CloseClientConnections(); r.srv.Close() })
	return r
}

// SetNow sets the receiver's clock (for the timestamp window).
func (r *Receiver) SetNow(now func() time.Time) { r.mu.Lock(); r.now = now; r.mu.Unlock() }

// SetDead makes the receiver answer 410 Gone for token.
func (r *Receiver) SetDead(token string) { r.mu.Lock(); r.dead[token] = true; r.mu.Unlock() }

// FailNext makes the next n verified requests fail with f.
func (r *Receiver) FailNext(n int, f fakeserver.Failure, retryAfter time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for range n {
		r.fail = append(r.fail, failure{f, retryAfter})
	}
}

// SetLatency delays every answer by d.
func (r *Receiver) SetLatency(d time.Duration) { r.mu.Lock(); r.latency = d; r.mu.Unlock() }

// Delivered is how many requests for token were answered 2xx.
func (r *Receiver) Delivered(token string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.delivered[token]
}

// RequestTimes are the arrival times of every request, rejected included.
func (r *Receiver) RequestTimes() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.times...)
}

// Received lists the verified requests answered 2xx, in order.
func (r *Receiver) Received() []Received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Received(nil), r.received...)
}

// Rejected lists why requests failed verification ("signature",
// "timestamp", "headers", "body").
func (r *Receiver) Rejected() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.rejected...)
}

var _ fakeserver.Control = (*Receiver)(nil)

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.times = append(r.times, time.Now())
	latency, now := r.latency, r.now()
	r.mu.Unlock()
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil || req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
		r.reject(w, "body", http.StatusBadRequest)
		return
	}
	if why := r.verify(req.Header, body, now); why != "" {
		r.reject(w, why, http.StatusUnauthorized)
		return
	}
	var msg map[string]any
	if err := json.Unmarshal(body, &msg); err != nil {
		r.reject(w, "body", http.StatusBadRequest)
		return
	}
	token, _ := msg["token"].(string)
	id, _ := msg["id"].(string)
	if token == "" || id == "" || id != req.Header.Get("X-Pushfleet-Delivery") || msg["app"] != req.Header.Get("X-Pushfleet-App") {
		r.reject(w, "body", http.StatusBadRequest)
		return
	}
	if !fakeserver.Delay(req.Context(), latency, r.stop) {
		return
	}
	r.mu.Lock()
	var f *failure
	if len(r.fail) > 0 {
		f = &r.fail[0]
		r.fail = r.fail[1:]
	}
	dead := r.dead[token]
	if f == nil && !dead {
		r.delivered[token]++
		r.received = append(r.received, Received{At: time.Now(), Delivery: id, App: req.Header.Get("X-Pushfleet-App"), Body: msg})
	}
	r.mu.Unlock()
	switch {
	case f != nil:
		r.answerFailure(w, *f)
	case dead:
		http.Error(w, `{"error":"target gone"}`, http.StatusGone)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// verify checks the scheme of docs/channels.md: a unix timestamp within
// the window, and a v1= signature, hex HMAC-SHA256 of "<ts>.<body>".
func (r *Receiver) verify(h http.Header, body []byte, now time.Time) string {
	tsText, sig := h.Get("X-Pushfleet-Timestamp"), h.Get("X-Pushfleet-Signature")
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil || !strings.HasPrefix(sig, "v1=") {
		return "headers"
	}
	if d := now.Sub(time.Unix(ts, 0)); d > r.Tolerance || d < -r.Tolerance {
		return "timestamp"
	}
	m := hmac.New(sha256.New, r.Secret)
	fmt.Fprintf(m, "%s.", tsText)
	m.Write(body)
	want := "v1=" + hex.EncodeToString(m.Sum(nil))
	for s := range strings.SplitSeq(sig, ",") {
		if hmac.Equal([]byte(strings.TrimSpace(s)), []byte(want)) {
			return ""
		}
	}
	return "signature"
}

func (r *Receiver) reject(w http.ResponseWriter, why string, code int) {
	r.mu.Lock()
	r.rejected = append(r.rejected, why)
	r.mu.Unlock()
	http.Error(w, `{"error":"`+why+`"}`, code)
}

func (r *Receiver) answerFailure(w http.ResponseWriter, f failure) {
	if f.after > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(f.after/time.Second)))
	}
	switch f.f {
	case fakeserver.RateLimited:
		http.Error(w, `{"error":"slow down"}`, http.StatusTooManyRequests)
	case fakeserver.Unavailable:
		http.Error(w, `{"error":"unavailable"}`, http.StatusServiceUnavailable)
	case fakeserver.Internal:
		http.Error(w, `{"error":"internal"}`, http.StatusInternalServerError)
	case fakeserver.AuthFailure:
		http.Error(w, `{"error":"unknown key"}`, http.StatusUnauthorized)
	case fakeserver.BadRequest:
		http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
	case fakeserver.DropConnection:
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
}

// Wait blocks until the receiver got n deliveries or ctx ends.
func (r *Receiver) Wait(ctx context.Context, n int) error {
	for {
		r.mu.Lock()
		got := len(r.received)
		r.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("webhook receiver: %d of %d deliveries: %w", got, n, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
