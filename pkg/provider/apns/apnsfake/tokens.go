package apnsfake

import (
	"net/http"
	"strings"
	"time"
)

// SetDead makes token answer 410 Unregistered from now on, with now as the
// time APNs last saw it valid.
func (s *Server) SetDead(token string) { s.SetDeadAt(token, time.Now()) }

// SetDeadAt is SetDead with the 410 timestamp at.
func (s *Server) SetDeadAt(token string, at time.Time) {
	s.mu.Lock()
	s.dead[token] = at
	s.mu.Unlock()
}

// SetTokenTopic binds token to topic (with its push-type suffix, e.g.
// "com.example.app.voip"): requests for it under another topic answer 400
// DeviceTokenNotForTopic. An empty topic removes the binding.
func (s *Server) SetTokenTopic(token, topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if topic == "" {
		delete(s.topicOf, token)
		return
	}
	s.topicOf[token] = topic
}

// deliver applies the token's state and records a delivery.
func (s *Server) deliver(token, topic string, h http.Header, body []byte) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, dead := s.dead[token]
	if !dead && strings.HasPrefix(token, DeadPrefix) {
		at, dead = s.started, true
	}
	if dead {
		return &apiError{status: http.StatusGone, reason: "Unregistered", timestamp: at}
	}
	if want, ok := s.topicOf[token]; ok && want != topic {
		return errorOf(http.StatusBadRequest, "DeviceTokenNotForTopic")
	}
	s.deliveries[token]++
	s.last[token] = Request{Header: h.Clone(), Payload: body}
	s.total.Add(1)
	return nil
}
