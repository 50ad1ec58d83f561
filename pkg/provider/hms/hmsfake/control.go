package hmsfake

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
	"github.com/pushfleet/pushfleet/pkg/provider/hms"
)

var _ fakeserver.Control = (*Server)(nil)

// AddApp registers an app: clientID with secret may fetch tokens, which
// are accepted on /v1/{appID}/messages:send. An empty clientID is appID.
func (s *Server) AddApp(appID, clientID, secret string) {
	if clientID == "" {
		clientID = appID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.apps[appID]; old != nil {
		delete(s.clients, old.clientID)
	}
	s.apps[appID] = &appEntry{clientID: clientID, secret: secret}
	s.clients[clientID] = appID
}

// SetSecret changes an app's client secret (a rotation in AppGallery
// Connect): token requests with the old one are refused from now on;
// tokens already issued stay valid until they expire.
func (s *Server) SetSecret(appID, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.apps[appID]; e != nil {
		e.secret = secret
	}
}

// SandboxApp registers an app with a fresh app ID and secret and returns
// its hms.AppConfig (point the Sender at the fake with SenderConfig).
func (s *Server) SandboxApp() hms.AppConfig {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	secret := base64.RawURLEncoding.EncodeToString(b)
	appID := fmt.Sprintf("10%07d", 1000000+s.seq.Add(1))
	s.AddApp(appID, "", secret)
	return hms.AppConfig{AppID: appID, ClientSecret: secret}
}

// SenderConfig is an hms.Config pointing both endpoints at the fake and
// trusting its certificate; set the other fields as needed.
func (s *Server) SenderConfig() hms.Config {
	return hms.Config{PushURL: s.URL(), TokenURL: s.TokenURL(), RootCAs: s.CertPool()}
}

// FailNext makes the next n push requests fail with f (see the package doc
// for the mapping). retryAfter is sent with RateLimited and Unavailable.
func (s *Server) FailNext(n int, f fakeserver.Failure, retryAfter time.Duration) {
	s.FailNextAnswer(n, failureAnswer(f, retryAfter))
}

// FailNextAnswer makes the next n push requests answer a, after the faults
// queued before it.
func (s *Server) FailNextAnswer(n int, a Answer) { s.queue(&s.faults, n, a) }

// FailTokenNext makes the next n token requests answer a.
func (s *Server) FailTokenNext(n int, a Answer) { s.queue(&s.tokenFaults, n, a) }

func (s *Server) queue(q *[]fault, n int, a Answer) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	*q = append(*q, fault{n: n, a: a})
}

// nextFault pops one injected answer of q, if any.
func (s *Server) nextFault(q *[]fault) (Answer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(*q) == 0 {
		return Answer{}, false
	}
	a := (*q)[0].a
	if (*q)[0].n--; (*q)[0].n == 0 {
		*q = (*q)[1:]
	}
	return a, true
}

func failureAnswer(f fakeserver.Failure, retryAfter time.Duration) Answer {
	switch f {
	case fakeserver.RateLimited:
		return Answer{Status: http.StatusTooManyRequests, Body: "Too Many Requests", RetryAfter: retryAfter}
	case fakeserver.Unavailable:
		return Answer{Status: http.StatusServiceUnavailable, Body: "Service Unavailable", RetryAfter: retryAfter}
	case fakeserver.Internal:
		return Answer{Status: http.StatusInternalServerError, Code: "81000001", Msg: "System inner error"}
	case fakeserver.AuthFailure:
		return Answer{Status: http.StatusUnauthorized, Code: "80200001", Msg: "Oauth authentication error"}
	case fakeserver.BadRequest:
		return Answer{Status: http.StatusBadRequest, Code: "80100003", Msg: "Illegal payload, message structure error"}
	case fakeserver.DropConnection:
		return Answer{Drop: true}
	}
	return Answer{Status: http.StatusInternalServerError, Body: "unknown injected failure"}
}

// ExpireTokens makes every access token issued so far expired: the next
// push with one is answered 80200003.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := time.Now().Add(-time.Second)
	for tok, is := range s.issued {
		is.exp = past
		s.issued[tok] = is
	}
}

// TokenRequests is the number of token requests received.
func (s *Server) TokenRequests() int64 { return s.tokenReqs.Load() }

// LastBody is the body of the last push request.
func (s *Server) LastBody() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.last)
}
