package natstest

import (
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is an in-process JetStream server that can be shut down and
// restarted: its client port (and cluster port, in a Cluster) and its store
// dir stay the same across restarts, so clients reconnect to the same URL
// and find what was stored before. Its methods are safe for concurrent use.
type Server struct {
	// Name is the server name: "n1", "n2"… in a Cluster, empty for a
	// server of its own (NATS then names it by its id).
	Name string
	// StoreDir is the JetStream store, under t.TempDir().
	StoreDir string

	opts server.Options // with fixed ports; copied at each start

	mu  sync.Mutex
	srv *server.Server
}

// StartServer starts a JetStream server on a loopback port of its own with
// its store in t.TempDir(), and shuts it down at the end of the test.
func StartServer(t testing.TB) *Server {
	t.Helper()
	opts := Options(t.TempDir())
	opts.Port = FreePorts(t, 1)[0]
	s := &Server{StoreDir: opts.StoreDir, opts: opts}
	t.Cleanup(s.Shutdown)
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// URL is the server's client URL, the same after a restart.
func (s *Server) URL() string { return fmt.Sprintf("nats://%s:%d", s.opts.Host, s.opts.Port) }

// Server returns the running server, or nil while it is down.
func (s *Server) Server() *server.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv
}

// Shutdown stops the server as a crash would: connections are cut and
// leaderships are not handed over first (lame-duck mode would). It waits
// until the server is gone and is a no-op while the server is down.
func (s *Server) Shutdown() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
}

// Restart starts a stopped server again on its ports, from its store dir,
// and waits until it accepts connections (it recovers its store first).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
}

func (s *Server) String() string {
	if s.Name != "" {
		return s.Name
	}
	return s.URL()
}

// start starts the server. It first waits briefly for its ports to be free
// (a port is reserved by FreePorts, released, then bound by the server).
// NATS_LOGGING=1 in the environment makes it log to stderr, as
// natsserver.RunServer does.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return fmt.Errorf("server %s already running", s)
	}
	o := s.opts // a copy: the server keeps a pointer to its options
	if os.Getenv("NATS_LOGGING") != "" {
		o.NoLog = false
	}
	ports := []int{o.Port}
	if o.Cluster.Port > 0 {
		ports = append(ports, o.Cluster.Port)
	}
	if err := waitPortsFree(o.Host, ports, 5*time.Second); err != nil {
		return fmt.Errorf("server %s: %w", s, err)
	}
	srv, err := run(&o, true)
	if err != nil {
		return fmt.Errorf("server %s: %w", s, err)
	}
	s.srv = srv
	return nil
}

// waitPortsFree waits until every port can be bound on host.
func waitPortsFree(host string, ports []int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, p := range ports {
		for {
			ln, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(p)))
			if err == nil {
				ln.Close()
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("port %d still in use after %v: %w", p, timeout, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// FreePorts reserves n distinct loopback ports at random and releases them
// for servers to bind. A restartable server must come back on its port and
// a cluster's route URLs must be known before its servers start, so port -1
// (a port chosen at bind time) does not do for them.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}
