package apnsfake

import (
	"net/http"
	"slices"
	"time"
)

// Request is a delivered notification as the fake received it.
type Request struct {
	Header  http.Header
	Payload []byte
}

// Delivered is how many notifications were accepted (200) for token.
func (s *Server) Delivered(token string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deliveries[token]
}

// LastRequest is the last notification delivered to token.
func (s *Server) LastRequest(token string) (Request, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.last[token]
	return r, ok
}

// TotalDelivered is how many notifications were accepted in all.
func (s *Server) TotalDelivered() int64 { return s.total.Load() }

// RequestTimes is when each request reached the handler, in order,
// whatever its answer: a test can check that nothing was sent after a
// notification's expiry.
func (s *Server) RequestTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.arrivals)
}

func (s *Server) noteArrival(t time.Time) {
	s.mu.Lock()
	s.arrivals = append(s.arrivals, t)
	s.mu.Unlock()
}

// Requests is how many requests reached the handler, whatever the answer.
func (s *Server) Requests() int64 { return s.requests.Load() }

// InFlight is how many requests are being handled now (SetLatency holds
// them), so a test can act while requests are in flight.
func (s *Server) InFlight() int64 { return s.inFlight.Load() }

// PeakInFlight is the most requests handled at once so far.
func (s *Server) PeakInFlight() int64 { return s.peak.Load() }

func (s *Server) notePeak(n int64) {
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

// Connections is how many distinct connections were accepted so far.
func (s *Server) Connections() int64 { return s.accepted.Load() }

// OpenConnections is how many connections are open now.
func (s *Server) OpenConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
