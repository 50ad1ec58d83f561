package mifake

import (
	"crypto/rand"
	"encoding/base64"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider/mi"
)

// AddApp registers an app: requests with "Authorization: key=<secret>"
// are accepted for packageName. Several secrets may share a package.
func (s *Server) AddApp(packageName, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[secret] = packageName
}

// RemoveApp revokes secret: its requests get code 21301.
func (s *Server) RemoveApp(secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.apps, secret)
}

// SandboxApp registers an app with a freshly generated secret and returns
// its mi.AppConfig (region china; point the Sender at the fake with
// SenderConfig). An empty packageName becomes "com.pushfleet.sandbox".
func (s *Server) SandboxApp(packageName string) mi.AppConfig {
	if packageName == "" {
		packageName = "com.pushfleet.sandbox"
	}
	b := make([]byte, 18)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	secret := base64.RawURLEncoding.EncodeToString(b)
	s.AddApp(packageName, secret)
	return mi.AppConfig{PackageName: packageName, AppSecret: secret, Region: mi.RegionChina}
}

// SenderConfig is an mi.Config pointing every region at the fake and
// trusting its certificate; set the other fields as needed.
func (s *Server) SenderConfig() mi.Config {
	return mi.Config{BaseURL: s.URL(), RootCAs: s.CertPool()}
}

// SetDead makes the fake report regid as invalid from now on.
func (s *Server) SetDead(regid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dead[regid] = true
}

func (s *Server) isDeadLocked(regid string) bool {
	return s.dead[regid] || strings.HasPrefix(regid, DeadPrefix)
}

// AddInvalidForPoll queues regids for GET /v1/feedback/fetch_invalid_regids,
// which hands each out once, to whichever app asks first.
func (s *Server) AddInvalidForPoll(regids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invalid = append(s.invalid, regids...)
}

// SetLatency delays every answer by d (plus the jitter).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetJitter adds a random delay in [0, d) to every answer.
func (s *Server) SetJitter(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jitter = d
}

// Delivered is how many accepted messages targeted regid (or alias, or topic).
func (s *Server) Delivered(target string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delivered[target]
}

// DeliveredTotal is the number of accepted targets over all requests.
func (s *Server) DeliveredTotal() int64 { return s.deliveries.Load() }

// RequestTimes is when each message (send) request arrived, in order,
// whatever its answer; feedback polls are not included.
func (s *Server) RequestTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.arrivals)
}

// Requests is the number of message (send) requests received.
func (s *Server) Requests() int64 { return s.requests.Load() }

// FeedbackRequests is the number of feedback requests received.
func (s *Server) FeedbackRequests() int64 { return s.feedback.Load() }

// MaxInFlight is the most requests the fake was handling at one time.
func (s *Server) MaxInFlight() int { return int(s.maxInFlight.Load()) }

// Connections is the number of distinct connections accepted so far.
func (s *Server) Connections() int { return int(s.conns.Load()) }

// OpenConnections is the number of connections open now.
func (s *Server) OpenConnections() int { return int(s.open.Load()) }

// LastRequest returns the path and form of the last message request.
func (s *Server) LastRequest() (path string, form url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last.path, maps.Clone(s.last.form)
}
