package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// Deps are what the gateway needs from its process.
type Deps struct {
	// JS publishes the intents (only its publishing half is used).
	JS jetstream.Publisher
	// Fleet bounds the app label (Fleet.App) and holds the registry the
	// gateway's metrics are registered on.
	Fleet  *metrics.Fleet
	Logger *slog.Logger
}

// Gateway is the HTTP push gateway.
type Gateway struct {
	cfg     Config
	pub     *events.Publisher
	keys    *Keys
	fleet   *metrics.Fleet
	m       *Metrics
	log     *slog.Logger
	handler http.Handler
	routes  []Route
	stats   stats
	now     func() time.Time

	mu        sync.Mutex
	ln        net.Listener
	listening atomic.Bool
}

// Route is one route of the gateway's API, as the OpenAPI document lists it.
type Route struct {
	Method, Path string
	// Auth: the route needs an API key.
	Auth bool
	h    http.HandlerFunc
}

// Pattern is the route's http.ServeMux pattern.
func (r Route) Pattern() string { return r.Method + " " + r.Path }

// New builds the gateway: it loads the keys file (an unreadable or invalid
// one is an error) and registers the metrics on d.Fleet's registry.
func New(cfg Config, d Deps) (*Gateway, error) {
	cfg = cfg.withDefaults()
	if cfg.KeysFile == "" {
		return nil, errors.New("gateway: --gateway-keys-file is required: every publishing route needs an API key")
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("gateway: --tls-cert and --tls-key go together")
	}
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{
		cfg:   cfg,
		pub:   events.NewPublisher(tracePublisher{d.JS}, events.WithScheduleHorizon(cfg.Horizon)),
		keys:  NewKeys(cfg.Rate, cfg.Burst),
		fleet: d.Fleet,
		log:   log.With("component", "gateway"),
		now:   time.Now,
	}
	g.stats.since = time.Now().UTC()
	if err := g.keys.Load(cfg.KeysFile); err != nil {
		return nil, err
	}
	if g.keys.Len() == 0 {
		g.log.Warn("the keys file lists no key: every publishing request gets 401", "path", cfg.KeysFile)
	}
	var reg prometheus.Registerer = prometheus.NewRegistry()
	if d.Fleet != nil {
		reg = d.Fleet.Registry
	}
	g.m = newMetrics(reg, func() float64 { return float64(g.keys.Len()) })
	g.routes = []Route{
		{Method: http.MethodPost, Path: "/v1/intents", Auth: true, h: g.postIntents},
		{Method: http.MethodPost, Path: "/api/push", Auth: true, h: g.gorushPush},
		{Method: http.MethodGet, Path: "/api/stat/app", Auth: true, h: g.gorushStat},
		{Method: http.MethodGet, Path: "/healthz", h: g.healthz},
		{Method: http.MethodGet, Path: "/openapi.json", h: serveOpenAPI},
	}
	g.handler = g.buildMux()
	return g, nil
}

// Routes lists the API's routes.
func (g *Gateway) Routes() []Route { return g.routes }

// Handler is the API's handler (every route, instrumented).
func (g *Gateway) Handler() http.Handler { return g.handler }

// Keys is the live key set.
func (g *Gateway) Keys() *Keys { return g.keys }

func (g *Gateway) buildMux() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range g.routes {
		h := rt.h
		if rt.Auth {
			h = g.authenticate(g.traced(rt.Pattern(), h))
		}
		mux.Handle(rt.Pattern(), g.instrument(rt.Pattern(), h))
	}
	mux.Handle("/", g.instrument("unmatched", http.HandlerFunc(g.unmatched)))
	return mux
}

// unmatched answers 405 for a known path with another method, else 404.
func (g *Gateway) unmatched(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, rt := range g.routes {
		if rt.Path == r.URL.Path {
			allow = append(allow, rt.Method)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeProblem(w, r, newProblem(http.StatusMethodNotAllowed, probMethod,
			fmt.Sprintf("%s %s: allowed %s", r.Method, r.URL.Path, strings.Join(allow, ", "))))
		return
	}
	writeProblem(w, r, newProblem(http.StatusNotFound, probNotFound,
		fmt.Sprintf("no route %s %s: see /openapi.json", r.Method, r.URL.Path)))
}

// statusWriter records the status code.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// instrument counts and times each request of route.
func (g *Gateway) instrument(route string, h http.Handler) http.Handler {
	dur := g.m.Duration.WithLabelValues(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			code := sw.code
			if code == 0 {
				code = http.StatusOK
			}
			g.m.Requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
			dur.Observe(time.Since(start).Seconds())
		}()
		h.ServeHTTP(sw, r)
	})
}

type keyCtx struct{}

// keyOf is the authenticated key of a request.
func keyOf(r *http.Request) *Key {
	k, _ := r.Context().Value(keyCtx{}).(*Key)
	return k
}

// authenticate checks the bearer key (401), then its rate limit (429).
func (g *Gateway) authenticate(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		scheme, presented, ok := strings.Cut(auth, " ")
		presented = strings.TrimSpace(presented)
		switch {
		case auth == "":
			writeProblem(w, r, newProblem(http.StatusUnauthorized, probUnauthorized,
				"no API key: send Authorization: Bearer <key>"))
			return
		case !ok || !strings.EqualFold(scheme, "Bearer") || presented == "":
			writeProblem(w, r, newProblem(http.StatusUnauthorized, probUnauthorized,
				"the Authorization header is not \"Bearer <key>\""))
			return
		}
		k, found := g.keys.Lookup(presented)
		if !found {
			writeProblem(w, r, newProblem(http.StatusUnauthorized, probUnauthorized,
				"unknown API key (revoked, rotated out, or never issued)"))
			return
		}
		res := k.limiter.Reserve()
		if d := res.Delay(); !res.OK() || d > 0 {
			res.Cancel()
			secs := int(math.Ceil(d.Seconds()))
			if !res.OK() || secs < 1 {
				secs = 1
			}
			p := newProblem(http.StatusTooManyRequests, probRateLimited,
				fmt.Sprintf("API key %q is limited to %g requests per second (burst %d); retry after %ds", k.Name, float64(k.rate), k.burst, secs))
			p.RetryAfter = secs
			writeProblem(w, r, p)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), keyCtx{}, k)))
	}
}

func (g *Gateway) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// Ready reports whether the API listener is serving.
func (g *Gateway) Ready() error {
	if !g.listening.Load() {
		return errors.New("gateway not listening")
	}
	return nil
}

// Listen opens the API listener (Run does it when not done before).
func (g *Gateway) Listen() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", g.cfg.Addr)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	g.ln = ln
	return nil
}

// URL is the base URL the gateway listens on ("" before Listen).
func (g *Gateway) URL() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln == nil {
		return ""
	}
	scheme := "http"
	if g.cfg.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + g.ln.Addr().String()
}

// Run serves the API until ctx ends, then drains: it keeps serving for
// ShutdownDelay (readiness already fails), stops accepting connections,
// waits up to DrainTimeout for requests in flight (their publishes
// included) and returns; the caller drains the NATS connection after.
func (g *Gateway) Run(ctx context.Context) error {
	if err := g.Listen(); err != nil {
		return err
	}
	g.mu.Lock()
	ln := g.ln
	g.mu.Unlock()
	srv := &http.Server{
		Handler:           g.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       g.cfg.Timeout,
		WriteTimeout:      g.cfg.Timeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if g.cfg.TLSCert != "" {
		certs, err := newCertReloader(g.cfg.TLSCert, g.cfg.TLSKey)
		if err != nil {
			ln.Close()
			return err
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.get, NextProtos: []string{"h2", "http/1.1"}}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if g.cfg.KeysReload > 0 {
		go g.keys.Watch(wctx, g.cfg.KeysFile, g.cfg.KeysReload, g.log, func(err error) {
			if err != nil {
				g.m.KeysReloads.WithLabelValues("error").Inc()
				return
			}
			g.m.KeysReloads.WithLabelValues("ok").Inc()
		})
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	g.listening.Store(true)
	g.log.Info("gateway listening", "url", g.URL(), "keys", g.keys.Len())
	select {
	case err := <-served:
		g.listening.Store(false)
		return fmt.Errorf("gateway: %w", err)
	case <-ctx.Done():
	}
	if d := g.cfg.ShutdownDelay; d > 0 {
		g.log.Info("gateway: still serving while load balancers catch up", "delay", d)
		time.Sleep(d)
	}
	drain := g.cfg.DrainTimeout
	if drain <= 0 {
		drain = 20 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	err := srv.Shutdown(sctx)
	g.listening.Store(false)
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("gateway: requests still in flight after %v: %w", drain, err)
	}
	<-served
	g.log.Info("gateway stopped")
	return nil
}
