package mifake

import (
	"crypto/rand"
	"encoding/base64"
	"maps"
	"net/url"
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

// AddInvalidForPoll queues regids for GET /v1/feedback/fetch_invalid_regids,
// which hands each out once, to whichever app asks first.
func (s *Server) AddInvalidForPoll(regids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invalid = append(s.invalid, regids...)
}

// SetJitter adds a random delay in [0, d) to every answer.
func (s *Server) SetJitter(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jitter = d
}

// FeedbackRequests is the number of feedback requests received.
func (s *Server) FeedbackRequests() int64 { return s.feedback.Load() }

// LastRequest returns the path and form of the last message request.
func (s *Server) LastRequest() (path string, form url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last.path, maps.Clone(s.last.form)
}

// hold is a pending HoldAnswers: answers wait until n requests do.
type hold struct {
	n, waiting int
	release    chan struct{}
}

// HoldAnswers holds the answers of the next requests until n of them are
// waiting, then lets them all go (each after its latency and jitter): a
// test can put exactly n requests in flight at once without racing a
// timer. It holds once; n ≤ 0 cancels a pending hold.
func (s *Server) HoldAnswers(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hold != nil {
		close(s.hold.release)
		s.hold = nil
	}
	if n > 0 {
		s.hold = &hold{n: n, release: make(chan struct{})}
	}
}
