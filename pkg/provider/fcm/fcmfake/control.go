package fcmfake

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
)

// Token prefixes the fake answers for without being told, so a sandbox user
// can provoke the answers by choosing tokens.
const (
	// DeadPrefix: a token starting with "dead" is unregistered (404
	// UNREGISTERED), as if SetDead had been called for it.
	DeadPrefix = "dead"
	// MalformedPrefix: a token starting with "bad" is not a valid
	// registration token (400 INVALID_ARGUMENT).
	MalformedPrefix = "bad"
)

var _ fakeserver.Control = (*Server)(nil)

// AddProject registers an FCM project; sends to unknown projects get 404.
func (s *Server) AddProject(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.projects[id]; !ok {
		s.projects[id] = newQuotaBucket(s.opts.Quota, s.opts.QuotaWindow)
	}
}

// SetDead makes token unregistered: 404 NOT_FOUND + UNREGISTERED.
func (s *Server) SetDead(token string) { s.setFlag(s.dead, token) }

// SetForeign makes token belong to another project: 403 SENDER_ID_MISMATCH.
func (s *Server) SetForeign(token string) { s.setFlag(s.foreign, token) }

// SetMalformed makes token invalid: 400 INVALID_ARGUMENT with the
// invalid-registration-token message.
func (s *Server) SetMalformed(token string) { s.setFlag(s.malformed, token) }

func (s *Server) setFlag(set map[string]bool, token string) {
	s.mu.Lock()
	set[token] = true
	s.mu.Unlock()
}

// FailNext makes the next n authorised send requests answer with f:
//
//   - RateLimited: 429 RESOURCE_EXHAUSTED + QUOTA_EXCEEDED, Retry-After when
//     retryAfter > 0
//   - Unavailable: 503 UNAVAILABLE + UNAVAILABLE with Retry-After retryAfter,
//     or UnavailableRetryAfter when zero (so the SDK does not retry)
//   - Internal: 500 INTERNAL + INTERNAL
//   - AuthFailure: 401 UNAUTHENTICATED + THIRD_PARTY_AUTH_ERROR
//   - BadRequest: 400 INVALID_ARGUMENT naming message.android.ttl
//   - DropConnection: no answer (the HTTP/2 stream is reset)
//
// Failures are counted per request, so a batch of k tokens uses k of them.
func (s *Server) FailNext(n int, f fakeserver.Failure, retryAfter time.Duration) {
	s.mu.Lock()
	s.fail = injected{n: n, failure: f, retryAfter: retryAfter}
	s.mu.Unlock()
}

func (s *Server) takeFailure() (injected, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail.n <= 0 {
		return injected{}, false
	}
	s.fail.n--
	return s.fail, true
}

// FailTokenRequests makes the next n token requests answer status: a 4xx
// answers invalid_grant (a rejected credential), a 5xx internal_failure.
func (s *Server) FailTokenRequests(n, status int) {
	s.mu.Lock()
	s.tokenFail = injectedToken{n: n, status: status}
	s.mu.Unlock()
}

func (s *Server) takeTokenFailure() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tokenFail.n <= 0 {
		return 0, false
	}
	s.tokenFail.n--
	return s.tokenFail.status, true
}

// RevokeAccessTokens invalidates every issued access token, so sends answer
// 401 UNAUTHENTICATED until the client fetches a new one.
func (s *Server) RevokeAccessTokens() {
	s.mu.Lock()
	clear(s.grants)
	s.mu.Unlock()
}

// SetLatency delays every answer of the send endpoint by d.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	s.latency = d
	s.mu.Unlock()
}

// SetQuota replaces the per-project quota: n messages per window (n = 0
// removes it). Buckets start full.
func (s *Server) SetQuota(n int, window time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Quota, s.opts.QuotaWindow = n, window
	for p := range s.projects {
		s.projects[p] = newQuotaBucket(n, window)
	}
}

func (s *Server) takeQuota(project string) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.projects[project].take(time.Now())
}

func (s *Server) recordDelivery(key string, msg json.RawMessage) {
	s.mu.Lock()
	s.delivered[key]++
	if s.opts.KeepMessages {
		s.messages[key] = append(json.RawMessage(nil), msg...)
	}
	s.mu.Unlock()
	s.deliveredAll.Add(1)
}

// Delivered returns how many messages reached token (topics: "/topics/x").
func (s *Server) Delivered(token string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delivered[token]
}

// TotalDelivered returns how many messages were delivered in all.
func (s *Server) TotalDelivered() int64 { return s.deliveredAll.Load() }

// LastMessage returns the last message delivered to token, with
// Options.KeepMessages.
func (s *Server) LastMessage(token string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[token]
	return m, ok
}

// RequestTimes returns when each request reached the send endpoint, in
// order, whatever its answer.
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

// SendRequests returns how many requests reached the send endpoint.
func (s *Server) SendRequests() int64 { return s.sendRequests.Load() }

// TokenRequests returns how many requests reached the token endpoint.
func (s *Server) TokenRequests() int64 { return s.tokenRequests.Load() }

// Connections returns how many client connections the fake accepted.
func (s *Server) Connections() int64 { return int64(s.Server.Connections()) }
