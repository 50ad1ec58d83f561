// Package health serves a process's operational HTTP endpoints: /metrics
// (Prometheus text format from the process's own registry), /healthz (the
// process is alive) and /readyz (every readiness check passes).
package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check reports an error while its component is not ready.
type Check func() error

// Server is the operational HTTP server.
type Server struct {
	Addr string
	log  *slog.Logger
	reg  *prometheus.Registry

	mu       sync.Mutex
	checks   map[string]Check
	stopping bool
	srv      *http.Server
	ln       net.Listener
}

// New returns a Server for addr (":8080", or "127.0.0.1:0" in tests).
func New(addr string, reg *prometheus.Registry, log *slog.Logger) *Server {
	return &Server{Addr: addr, reg: reg, log: log, checks: map[string]Check{}}
}

// AddCheck registers a named readiness check. It may be called at any
// time, before or after Start.
func (s *Server) AddCheck(name string, c Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[name] = c
}

// Handler returns the endpoints' handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(s.reg, promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.ready)
	return mux
}

func (s *Server) ready(w http.ResponseWriter, _ *http.Request) {
	// A snapshot: checks run unlocked (they may be slow) while AddCheck
	// goes on after Start.
	s.mu.Lock()
	stopping := s.stopping
	checks := maps.Clone(s.checks)
	s.mu.Unlock()
	names := slices.Sorted(maps.Keys(checks))
	var failed []string
	if stopping {
		failed = append(failed, "shutting down")
	}
	for _, n := range names {
		if err := checks[n](); err != nil {
			failed = append(failed, n+": "+err.Error())
		}
	}
	if len(failed) > 0 {
		http.Error(w, strings.Join(failed, "\n"), http.StatusServiceUnavailable)
		return
	}
	_, _ = fmt.Fprintln(w, "ready")
}

// Start listens on Addr and serves in the background.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("health server: %w", err)
	}
	s.mu.Lock()
	s.ln = ln
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	s.mu.Unlock()
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("health server", "err", err)
		}
	}()
	return nil
}

// URL is the base URL the server listens on.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// Stopping makes /readyz fail from now on, before the drain starts.
func (s *Server) Stopping() {
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
}

// Shutdown stops the server.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Shutdown(ctx)
}
