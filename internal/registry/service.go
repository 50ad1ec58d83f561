package registry

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/registryapi"
)

// NotFoundDescription is the description of a 404: what has a record, so
// that a client does not take "not found" for "never delivered to".
const NotFoundDescription = "no record for this token: only tokens registered through the registry " +
	"and tokens a provider reported invalid or replaced have one (a token that was only delivered to has none)"

// Config tunes the registry service. Zero values take the documented defaults.
type Config struct {
	// Cache, when set and ready, answers stats from memory. Without it
	// stats are counted by reading every record, and the answer is reused
	// for StatsTTL.
	Cache *tokens.Cache
	// StatsTTL is how long a counted answer is reused (default 30s).
	StatsTTL time.Duration
	// RequestTimeout bounds the registry work of one request (default 10s).
	RequestTimeout time.Duration
	Logger         *slog.Logger
}

func (c *Config) setDefaults() {
	if c.StatsTTL <= 0 {
		c.StatsTTL = 30 * time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
}

// service holds the endpoint handlers.
type service struct {
	reg *tokens.Devices
	cfg Config
	now func() time.Time

	mu      sync.Mutex
	counted map[string]StatsResponse // counted answers by app ("" = all)
}

// NewService starts the registry service on nc: endpoints register,
// unregister, get, update-tags, list-by-alias, list-by-tag and stats on
// push.registry.<verb>.<app> (one subscription per verb, wildcard app), and
// stats-all on push.registry.stats-all, in micro's default queue group so
// that a request reaches one instance. The subject's app is the authority:
// a request whose body names another app is refused with 403
// (ErrForbidden), so NATS permissions on push.registry.*.<app> confine a
// client to its app. Each endpoint handles its requests one at a time: run
// more instances to scale. Stop the returned service to drain it.
func NewService(nc *nats.Conn, reg *tokens.Devices, cfg Config) (micro.Service, error) {
	cfg.setDefaults()
	s := &service{reg: reg, cfg: cfg, now: time.Now, counted: map[string]StatsResponse{}}
	svc, err := micro.AddService(nc, micro.Config{
		Name:        ServiceName,
		Version:     ServiceVersion,
		Description: "pushfleet device registry: register devices, list alias and tag audiences, count devices",
		ErrorHandler: func(_ micro.Service, err *micro.NATSError) {
			cfg.Logger.Warn("registry service subscription error", "subject", err.Subject, "err", err.Description)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("registry service: %w", err)
	}
	g := svc.AddGroup(SubjectPrefix)
	handlers := map[string]func(context.Context, string, []byte) (any, error){
		VerbRegister:    s.register,
		VerbUnregister:  s.unregister,
		VerbGet:         s.get,
		VerbUpdateTags:  s.updateTags,
		VerbListByAlias: s.listByAlias,
		VerbListByTag:   s.listByTag,
		VerbStats:       s.statsOf,
	}
	for _, verb := range Verbs {
		if err := g.AddEndpoint(verb, s.handler(verb, handlers[verb]), micro.WithEndpointSubject(verb+".*")); err != nil {
			_ = svc.Stop()
			return nil, fmt.Errorf("registry service endpoint %s: %w", verb, err)
		}
	}
	if err := g.AddEndpoint(VerbStatsAll, s.handler(VerbStatsAll, s.statsAll)); err != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("registry service endpoint %s: %w", VerbStatsAll, err)
	}
	// Served once NewService returns: the endpoints' subscriptions reach
	// the server before the first request from another connection can.
	if err := nc.FlushTimeout(5 * time.Second); err != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("registry service: %w", err)
	}
	return svc, nil
}

// handler adapts a typed handler: take the app from the subject, run with a
// timeout, answer JSON or a service error. The handler gets the subject's
// app ("" for stats-all) and must refuse a body naming another.
func (s *service) handler(verb string, h func(context.Context, string, []byte) (any, error)) micro.Handler {
	return micro.HandlerFunc(func(req micro.Request) {
		app := ""
		if verb != VerbStatsAll {
			v, a, ok := SubjectApp(req.Subject())
			if !ok || v != verb {
				s.fail(req, verb, fmt.Errorf("%w: subject %s: want %s with a valid app name (1-64 characters of A-Z a-z 0-9 _ -)",
					errBadRequest, req.Subject(), Subject(verb, "<app>")))
				return
			}
			app = a
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
		defer cancel()
		resp, err := h(ctx, app, req.Data())
		if err != nil {
			if errors.Is(err, errForbidden) {
				s.cfg.Logger.Warn("registry request refused", "endpoint", verb, "subject", req.Subject(), "err", err)
			}
			s.fail(req, verb, err)
			return
		}
		if err := req.RespondJSON(resp); err != nil {
			s.cfg.Logger.Warn("registry: respond", "endpoint", verb, "err", err)
		}
	})
}

// errForbidden marks requests whose body names another app than the subject.
var errForbidden = errors.New("forbidden")

// sameApp refuses a body app that is not the subject's.
func sameApp(subjectApp, bodyApp string) error {
	if bodyApp != subjectApp {
		return fmt.Errorf("%w: the request names app %q but its subject is for app %q", errForbidden, bodyApp, subjectApp)
	}
	return nil
}

// errBadRequest marks decoding errors.
var errBadRequest = errors.New("malformed request")

// fail answers with the service error matching err.
func (s *service) fail(req micro.Request, verb string, err error) {
	code, desc := CodeInternal, "internal error"
	switch {
	case errors.Is(err, errBadRequest), errors.Is(err, tokens.ErrInvalidDevice), errors.Is(err, tokens.ErrInvalidCursor):
		code, desc = CodeBadRequest, err.Error()
	case errors.Is(err, errForbidden):
		code, desc = CodeForbidden, err.Error()
	case errors.Is(err, tokens.ErrNotFound):
		code, desc = CodeNotFound, NotFoundDescription
	case errors.Is(err, tokens.ErrConflict):
		code, desc = CodeConflict, "too many concurrent writers on this device, retry"
	case errors.Is(err, context.DeadlineExceeded):
		code, desc = CodeTimeout, "registry timed out"
	case errors.Is(err, tokens.ErrIndex):
		desc = "device saved but its alias/tag index lags: register it again"
	}
	if code == CodeInternal || code == CodeTimeout {
		// tokens' errors name devices by fingerprint only, never the token.
		s.cfg.Logger.Error("registry request failed", "endpoint", verb, "err", err)
	}
	// The body repeats code and description in one readable line: a plain
	// `nats req` shows it (it prints "nil body" for an empty one).
	if rerr := req.Error(code, desc, registryapi.ErrorBody(code, desc)); rerr != nil {
		s.cfg.Logger.Warn("registry: respond", "endpoint", verb, "err", rerr)
	}
}

// decode reads a request strictly: unknown fields and trailing data are errors.
func decode(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return fmt.Errorf("%w: empty body, want a JSON object", errBadRequest)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", errBadRequest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: data after the JSON object", errBadRequest)
	}
	return nil
}

func (s *service) register(ctx context.Context, app string, b []byte) (any, error) {
	var r RegisterRequest
	if err := decode(b, &r); err != nil {
		return nil, err
	}
	if err := sameApp(app, r.App); err != nil {
		return nil, err
	}
	rec, err := s.reg.Register(ctx, tokens.Device{App: r.App, Platform: r.Platform, Token: r.Token,
		Alias: r.Alias, Tags: r.Tags, Locale: r.Locale, Attributes: r.Attributes})
	if err != nil {
		return nil, err
	}
	return DeviceResponse{Device: deviceFrom(rec)}, nil
}

func (s *service) unregister(ctx context.Context, app string, b []byte) (any, error) {
	var r UnregisterRequest
	if err := decode(b, &r); err != nil {
		return nil, err
	}
	if err := sameApp(app, r.App); err != nil {
		return nil, err
	}
	if err := s.reg.Unregister(ctx, r.App, r.Platform, r.Token); err != nil {
		return nil, err
	}
	return UnregisterResponse{Removed: true}, nil
}

func (s *service) get(ctx context.Context, app string, b []byte) (any, error) {
	var r GetRequest
	if err := decode(b, &r); err != nil {
		return nil, err
	}
	if err := sameApp(app, r.App); err != nil {
		return nil, err
	}
	rec, err := s.reg.Get(ctx, r.App, r.Platform, r.Token)
	if err != nil {
		return nil, err
	}
	return DeviceResponse{Device: deviceFrom(rec)}, nil
}

func (s *service) updateTags(ctx context.Context, app string, b []byte) (any, error) {
	var r UpdateTagsRequest
	if err := decode(b, &r); err != nil {
		return nil, err
	}
	if err := sameApp(app, r.App); err != nil {
		return nil, err
	}
	rec, err := s.reg.UpdateTags(ctx, r.App, r.Platform, r.Token, r.Add, r.Remove)
	if err != nil {
		return nil, err
	}
	return DeviceResponse{Device: deviceFrom(rec)}, nil
}

func (s *service) listByAlias(ctx context.Context, app string, b []byte) (any, error) {
	var r ListByAliasRequest
	if err := decode(b, &r); err != nil {
		return nil, err
	}
	if err := sameApp(app, r.App); err != nil {
		return nil, err
	}
	return s.list(ctx, r.App, tokens.AliasIndex, r.Alias, r.Paging)
}

func (s *service) listByTag(ctx context.Context, app string, b []byte) (any, error) {
	var r ListByTagRequest
	if err := decode(b, &r); err != nil {
		return nil, err
	}
	if err := sameApp(app, r.App); err != nil {
		return nil, err
	}
	return s.list(ctx, r.App, tokens.TagIndex, r.Tag, r.Paging)
}

func (s *service) list(ctx context.Context, app string, k tokens.Kind, name string, p Paging) (any, error) {
	m, err := s.reg.List(ctx, app, k, name, tokens.Page{Cursor: p.Cursor, Limit: p.Limit})
	if err != nil {
		return nil, err
	}
	if m.Devices == nil {
		m.Devices = []events.Target{}
	}
	return ListResponse{Devices: m.Devices, Next: m.Next}, nil
}

// statsOf counts the devices of the subject's app; the body may be empty
// or name the same app.
func (s *service) statsOf(ctx context.Context, app string, b []byte) (any, error) {
	var r StatsRequest
	if len(bytes.TrimSpace(b)) > 0 {
		if err := decode(b, &r); err != nil {
			return nil, err
		}
	}
	if r.App != "" {
		if err := sameApp(app, r.App); err != nil {
			return nil, err
		}
	}
	return s.stats(ctx, app)
}

// statsAll counts the devices of every app; the body may be empty or name
// no app.
func (s *service) statsAll(ctx context.Context, _ string, b []byte) (any, error) {
	var r StatsRequest
	if len(bytes.TrimSpace(b)) > 0 {
		if err := decode(b, &r); err != nil {
			return nil, err
		}
	}
	if r.App != "" {
		return nil, fmt.Errorf("%w: app: %s counts every app; ask %s for one", errBadRequest,
			Subject(VerbStatsAll, ""), Subject(VerbStats, r.App))
	}
	return s.stats(ctx, "")
}

// stats answers counts of app ("" for every app): from the cache when it
// is ready, else counted and reused for StatsTTL.
func (s *service) stats(ctx context.Context, app string) (any, error) {
	now := s.now()
	if c := s.cfg.Cache; c != nil && c.Ready() {
		return statsResponse(c.Stats(app), "cache", now), nil
	}
	s.mu.Lock()
	cached, ok := s.counted[app]
	s.mu.Unlock()
	if ok && now.Sub(cached.AsOf) < s.cfg.StatsTTL {
		return cached, nil
	}
	st, err := s.reg.Stats(ctx, app)
	if err != nil {
		return nil, err
	}
	resp := statsResponse(st, "scan", now)
	s.mu.Lock()
	for a, old := range s.counted { // forget expired answers
		if now.Sub(old.AsOf) >= s.cfg.StatsTTL {
			delete(s.counted, a)
		}
	}
	s.counted[app] = resp
	s.mu.Unlock()
	return resp, nil
}

func statsResponse(st tokens.Stats, source string, at time.Time) StatsResponse {
	return StatsResponse{Counts: countsFrom(st), Total: st.Total(), Source: source, AsOf: at.UTC()}
}
