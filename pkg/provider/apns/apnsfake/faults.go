package apnsfake

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
)

var _ fakeserver.Control = (*Server)(nil)

// fault is one injected answer, taken by the next request.
type fault struct {
	answer *apiError // an APNs error answer, or
	drop   bool      // close the request's TCP connection, or
	reset  bool      // reset the request's HTTP/2 stream
}

// FailNext makes the next n requests fail with f, whatever they carry:
//
//	RateLimited    429 TooManyRequests, Retry-After: retryAfter (if > 0)
//	Unavailable    503 ServiceUnavailable
//	Internal       500 InternalServerError
//	AuthFailure    403 InvalidProviderToken
//	BadRequest     400 BadTopic
//	DropConnection the request's TCP connection is closed, no answer
func (s *Server) FailNext(n int, f fakeserver.Failure, retryAfter time.Duration) {
	var ft fault
	switch f {
	case fakeserver.RateLimited:
		ft.answer = &apiError{status: http.StatusTooManyRequests, reason: "TooManyRequests", retryAfter: retryAfter}
	case fakeserver.Unavailable:
		ft.answer = &apiError{status: http.StatusServiceUnavailable, reason: "ServiceUnavailable", retryAfter: retryAfter}
	case fakeserver.Internal:
		ft.answer = errorOf(http.StatusInternalServerError, "InternalServerError")
	case fakeserver.AuthFailure:
		ft.answer = errorOf(http.StatusForbidden, "InvalidProviderToken")
	case fakeserver.BadRequest:
		ft.answer = errorOf(http.StatusBadRequest, "BadTopic")
	case fakeserver.DropConnection:
		ft.drop = true
	default:
		panic("apnsfake: unknown failure " + f.String())
	}
	s.queue(n, ft)
}

// FailNextWith makes the next n requests answer status with reason (and a
// Retry-After header when retryAfter > 0): any APNs answer, for tests of
// every classification row.
func (s *Server) FailNextWith(n, status int, reason string, retryAfter time.Duration) {
	s.queue(n, fault{answer: &apiError{status: status, reason: reason, retryAfter: retryAfter}})
}

// ResetStreams makes the next n requests end with an HTTP/2 RST_STREAM
// instead of an answer; the connection stays up.
func (s *Server) ResetStreams(n int) { s.queue(n, fault{reset: true}) }

// SetLatency delays every answer by d (the request's end cuts it short).
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// HoldAfter makes APNs stall once n notifications were delivered: every
// later request waits, unanswered, until its client gives up or Release is
// called. A test can so stop a sender at a known point of its work, with
// requests in flight, however loaded the machine is.
func (s *Server) HoldAfter(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holdAfter.Load() == 0 {
		s.held = make(chan struct{})
	}
	s.holdAfter.Store(n)
}

// Release ends HoldAfter: held requests are answered.
func (s *Server) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holdAfter.Swap(0) != 0 {
		close(s.held)
	}
}

// hold applies HoldAfter; false means the request ended first.
func (s *Server) hold(ctx context.Context) bool {
	n := s.holdAfter.Load()
	if n <= 0 || s.total.Load() < n {
		return true
	}
	s.mu.Lock()
	held := s.held
	s.mu.Unlock()
	select {
	case <-held:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Server) queue(n int, f fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

func (s *Server) nextFault() (fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return fault{}, false
	}
	f := s.faults[0]
	s.faults = s.faults[1:]
	return f, true
}

func (s *Server) inject(w http.ResponseWriter, r *http.Request, f fault) {
	switch {
	case f.drop:
		if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
			c.Close()
			return
		}
		panic(http.ErrAbortHandler)
	case f.reset:
		panic(http.ErrAbortHandler) // net/http resets the stream, quietly
	}
	if id := r.Header.Get("apns-id"); isUUID(id) {
		w.Header().Set("apns-id", id)
	}
	writeError(w, f.answer)
}
