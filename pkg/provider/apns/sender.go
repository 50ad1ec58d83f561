package apns

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// platform labels this provider's metrics.
const platform = string(events.APNs)

// ErrClosed is returned by UpdateApps after Close.
var ErrClosed = errors.New("apns: sender closed")

// Sender delivers jobs to APNs for every configured app. It implements
// provider.Sender and provider.Closer and is safe for concurrent use.
type Sender struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex // serialises UpdateApps and Close
	closed bool
	state  atomic.Pointer[state]
}

// state is one immutable generation of the app configuration; Send reads
// it without locks.
type state struct {
	apps    map[string]*app
	pools   map[string]*pool   // by poolKey
	signers map[string]*signer // by credential id (token auth only)
}

// app is one configured app, resolved onto its pool and signer.
type app struct {
	name   string
	topic  string
	pool   *pool
	signer *signer // nil with certificate auth
}

var _ interface {
	provider.Sender
	provider.Closer
} = (*Sender)(nil)

// New validates cfg and apps, loads every app's credentials and returns a
// Sender. Connections are opened on first use.
func New(cfg Config, apps map[string]AppConfig) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Sender{cfg: cfg.withDefaults()}
	s.log = s.cfg.Logger
	s.state.Store(&state{apps: map[string]*app{}, pools: map[string]*pool{}, signers: map[string]*signer{}})
	if err := s.UpdateApps(apps); err != nil {
		return nil, err
	}
	return s, nil
}

// UpdateApps replaces the app set without a restart: added apps become
// usable, removed ones answer ErrUnknownApp, and apps whose credentials and
// environment did not change keep their connections and JWT. Pools no
// longer used close once their requests in flight are answered. On error
// nothing changes.
func (s *Sender) UpdateApps(apps map[string]AppConfig) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	old := s.state.Load()
	next := &state{apps: map[string]*app{}, pools: map[string]*pool{}, signers: map[string]*signer{}}
	for _, name := range slices.Sorted(maps.Keys(apps)) {
		a, err := s.resolve(old, next, name, apps[name])
		if err != nil {
			return fmt.Errorf("apns app %q: %w", name, err)
		}
		next.apps[name] = a
	}
	s.state.Store(next)
	for key, p := range old.pools {
		if next.pools[key] != p {
			s.log.Info("apns pool retired", "pool", p.label)
			p.retire()
		}
	}
	return nil
}

// resolve loads one app and finds (or creates) its signer and pool, reusing
// those of old where the credentials match.
func (s *Sender) resolve(old, next *state, name string, cfg AppConfig) (*app, error) {
	if !events.ValidApp(name) {
		return nil, errors.New("app name must be 1-64 characters of A-Z a-z 0-9 _ -")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cred, err := loadCredential(cfg)
	if err != nil {
		return nil, err
	}
	var sg *signer
	if cred.cert == nil {
		sg = reuse(next.signers, old.signers, cred.id, func() *signer { return newSigner(cred, s.cfg.JWTRenewInterval) })
	}
	key := poolKey(cred, cfg.Environment, s.cfg.baseURL(cfg.Environment))
	p := reuse(next.pools, old.pools, key, func() *pool {
		s.log.Info("apns pool created", "pool", cred.label()+"@"+string(cfg.Environment))
		return newPool(&s.cfg, cred, sg, cfg.Environment, s.log)
	})
	return &app{name: name, topic: cfg.Topic, pool: p, signer: sg}, nil
}

// reuse returns next[key], else old[key], else a new value; the result is
// recorded in next.
func reuse[T any](next, old map[string]*T, key string, create func() *T) *T {
	v, ok := next[key]
	if !ok {
		v, ok = old[key]
	}
	if !ok {
		v = create()
	}
	next[key] = v
	return v
}

// Close closes every connection; requests in flight end with Retry and later
// Sends answer ErrUnknownApp.
func (s *Sender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	old := s.state.Swap(&state{apps: map[string]*app{}})
	for _, p := range old.pools {
		p.close()
	}
	return nil
}
