package hms

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// AppConfig is one Push Kit app: its app ID (the path segment of the send
// URL) and its OAuth 2.0 client credentials. The secret is given inline
// (ClientSecret) or as a file path (ClientSecretFile), exactly one of them;
// a file is read by New and UpdateApps, so rotating the file and reloading
// rotates the secret.
type AppConfig struct {
	// AppID is the app's ID in AppGallery Connect.
	AppID string `json:"app_id"`
	// ClientID is the OAuth 2.0 client ID; empty: AppID (for apps created
	// in AppGallery Connect the two are the same).
	ClientID string `json:"client_id,omitempty"`
	// ClientSecret is the OAuth 2.0 client secret (the app secret).
	ClientSecret string `json:"client_secret,omitempty"`
	// ClientSecretFile names a file holding the secret (surrounding
	// whitespace is trimmed).
	ClientSecretFile string `json:"client_secret_file,omitempty"`
}

// Validate checks the fields and reads ClientSecretFile. Errors name the
// offending field.
func (a AppConfig) Validate() error {
	if _, err := a.load(); err != nil {
		return fmt.Errorf("hms: %w", err)
	}
	return nil
}

// creds is what identifies an app to Push Kit: two apps with equal creds
// share nothing but may keep their cached token across a reload.
type creds struct {
	appID, clientID, secret string
}

func (a AppConfig) load() (creds, error) {
	switch {
	case a.AppID == "":
		return creds{}, errors.New("app_id is required")
	case url.PathEscape(a.AppID) != a.AppID:
		return creds{}, fmt.Errorf("app_id %q must be usable in a URL path as is", a.AppID)
	case strings.ContainsAny(a.ClientID, " \t\r\n"):
		return creds{}, fmt.Errorf("client_id %q must not contain spaces", a.ClientID)
	case a.ClientSecret == "" && a.ClientSecretFile == "":
		return creds{}, errors.New("client_secret or client_secret_file is required")
	case a.ClientSecret != "" && a.ClientSecretFile != "":
		return creds{}, errors.New("set only one of client_secret and client_secret_file")
	case strings.ContainsAny(a.ClientSecret, "\r\n"):
		return creds{}, errors.New("client_secret must be one line")
	}
	secret := a.ClientSecret
	if a.ClientSecretFile != "" {
		b, err := os.ReadFile(a.ClientSecretFile)
		if err != nil {
			return creds{}, fmt.Errorf("client_secret_file: %w", err)
		}
		secret = strings.TrimSpace(string(b))
		if secret == "" || strings.ContainsAny(secret, "\r\n") {
			return creds{}, fmt.Errorf("client_secret_file %s: want one non-empty line", a.ClientSecretFile)
		}
	}
	clientID := a.ClientID
	if clientID == "" {
		clientID = a.AppID
	}
	return creds{appID: a.AppID, clientID: clientID, secret: secret}, nil
}

// app is one configured app. It is immutable once published; UpdateApps
// replaces it whole, keeping tokens and backoff when the credentials did
// not change.
type app struct {
	name    string
	creds   creds
	sendURL string
	tokens  *tokenSource
	limit   *backoff
}

// UpdateApps replaces the configured apps without a restart. Apps whose
// app ID and client credentials are unchanged keep their cached access
// token; changed ones start with a new token source; missing ones are
// removed. Requests in flight finish with the app they started with, and
// the connections (shared by all apps) are kept. On error nothing changes.
func (s *Sender) UpdateApps(apps map[string]AppConfig) error {
	s.updateMu.Lock()
	defer s.updateMu.Unlock()
	old := s.snapshot()
	next := make(map[string]*app, len(apps))
	var errs []error
	var added, rotated []string
	names := make([]string, 0, len(apps))
	for name := range apps {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !events.ValidApp(name) {
			errs = append(errs, fmt.Errorf("hms: app %q: invalid app name", name))
			continue
		}
		c, err := apps[name].load()
		if err != nil {
			errs = append(errs, fmt.Errorf("hms: app %q: %w", name, err))
			continue
		}
		if prev := old[name]; prev != nil && prev.creds == c {
			next[name] = prev
			continue
		}
		if old[name] != nil {
			rotated = append(rotated, name)
		} else {
			added = append(added, name)
		}
		next[name] = &app{
			name: name, creds: c,
			sendURL: s.cfg.PushURL + "/v1/" + c.appID + "/messages:send",
			tokens:  newTokenSource(name, c, s.cfg, s.tokenClient, s.base, &s.refreshes),
			limit:   &backoff{min: s.cfg.BackoffMin, max: s.cfg.BackoffMax},
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	s.apps.Store(&next)
	provider.LogAppsUpdated(s.log, "hms", added, rotated, old, next)
	return nil
}

// Apps lists the configured app names, sorted.
func (s *Sender) Apps() []string {
	m := s.snapshot()
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// snapshot is the current app set; callers must not modify it.
func (s *Sender) snapshot() map[string]*app {
	if m := s.apps.Load(); m != nil {
		return *m
	}
	return nil
}

// backoff computes the wait given to an app's rate-limited tokens when
// Push Kit names none: it doubles per consecutive rate-limited answer.
type backoff struct {
	min, max time.Duration
	mu       sync.Mutex
	n        int
}

// limited records a rate-limited answer and returns the wait to suggest.
func (b *backoff) limited(jitter func(time.Duration) time.Duration) time.Duration {
	b.mu.Lock()
	n := b.n
	b.n++
	b.mu.Unlock()
	d := b.min
	for i := 0; i < n && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	return d/2 + jitter(d/2+1)
}

// answered resets the backoff after any answer that was no rate limit.
func (b *backoff) answered() {
	b.mu.Lock()
	b.n = 0
	b.mu.Unlock()
}
