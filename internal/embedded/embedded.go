// Package embedded runs a NATS server with JetStream inside the process, for
// the all-in-one pushfleet and for tests that start the fleet as a whole.
package embedded

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/pushfleet/pushfleet/internal/config/invalid"
)

// Config describes the embedded server.
type Config struct {
	// StoreDir is the JetStream file store (required: never a shared temp
	// dir), created when missing.
	StoreDir string
	// Listen is a client address to expose, e.g. "127.0.0.1:4222", so that
	// pushctl and other processes can connect; empty: in-process only.
	Listen string
	// MonitorPort serves /jsz and friends when positive.
	MonitorPort int
	Logger      *slog.Logger
}

// Server is a running embedded server.
type Server struct {
	*server.Server
	// StoreDir is the absolute path of the JetStream store.
	StoreDir  string
	listening bool
}

// startTimeout bounds the wait for the server to accept connections.
const startTimeout = 30 * time.Second

// Start starts the server and waits until it accepts connections.
func Start(c Config) (*Server, error) {
	if c.StoreDir == "" {
		return nil, invalid.Errorf("embedded nats", "a store directory is required")
	}
	dir, err := filepath.Abs(c.StoreDir)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: store directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded nats: store directory: %w", err)
	}
	c.StoreDir = dir
	opts := &server.Options{
		ServerName: "pushfleet", JetStream: true, StoreDir: c.StoreDir,
		NoSigs: true, DontListen: c.Listen == "", HTTPPort: c.MonitorPort,
		HTTPHost: "127.0.0.1",
	}
	if c.Listen != "" {
		host, port, err := splitHostPort(c.Listen)
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	if c.Logger != nil {
		s.SetLoggerV2(slogAdapter{c.Logger.With("component", "nats-server")}, false, false, false)
	}
	go s.Start()
	if !s.ReadyForConnections(startTimeout) {
		s.Shutdown()
		return nil, fmt.Errorf("embedded nats: not ready after %v (store %s)", startTimeout, c.StoreDir)
	}
	return &Server{Server: s, StoreDir: c.StoreDir, listening: c.Listen != ""}, nil
}

// URL is where other processes reach the server (nats://host:port), empty
// when it does not listen (in-process only).
func (s *Server) URL() string {
	if !s.listening {
		return ""
	}
	return s.ClientURL()
}

// ConnectOption connects a client in-process, without a socket.
func (s *Server) ConnectOption() nats.Option { return nats.InProcessServer(s.Server) }

// Stop shuts the server down and waits for it.
func (s *Server) Stop() {
	s.Shutdown()
	s.WaitForShutdown()
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, invalid.Errorf("embedded nats", "listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, invalid.Errorf("embedded nats", "listen address %q: bad port", addr)
	}
	if port == 0 {
		// ":0" means any free port, as for net.Listen; nats-server reads 0
		// as its default 4222 and -1 as a random port.
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// slogAdapter bridges nats-server's logger to slog.
type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.log.Info(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.log.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any)  { a.log.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.log.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.log.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  { a.log.Debug(fmt.Sprintf(format, v...)) }
