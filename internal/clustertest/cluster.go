// Package clustertest runs pushfleet the way production runs it: against a
// three-node NATS JetStream cluster with R3 streams, here started inside the
// test process on loopback. Cluster is the helper; the tests of this package
// take a node down while notifications flow and check that nothing is lost.
package clustertest

import (
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsserver "github.com/nats-io/nats-server/v2/test"
)

// ClusterName is the NATS cluster name of every node.
const ClusterName = "pushfleet"

// Cluster is a set of clustered JetStream servers on 127.0.0.1, each with its
// own file store under t.TempDir(), so that a node can be stopped and
// restarted from the same store.
type Cluster struct {
	nodes []*Node
}

// Node is one server of a Cluster. Its ports and store dir stay the same
// across restarts.
type Node struct {
	Name        string
	StoreDir    string
	clientPort  int
	clusterPort int
	routes      string

	mu  sync.Mutex
	srv *server.Server
}

// Start starts n clustered servers and waits until the JetStream meta group
// has a leader and every node is current. Every running node is shut down at
// the end of the test.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	ports := freePorts(t, 2*n)
	var routes []string
	for i := range n {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[n+i]))
	}
	c := &Cluster{}
	for i := range n {
		c.nodes = append(c.nodes, &Node{
			Name: fmt.Sprintf("n%d", i+1), StoreDir: t.TempDir(),
			clientPort: ports[i], clusterPort: ports[n+i], routes: strings.Join(routes, ","),
		})
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			nd.Shutdown()
		}
	})
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, nd := range c.nodes {
		// Together: each node waits for its routes before it is ready.
		wg.Go(func() { errs[i] = nd.start() })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c.WaitReady(t, 30*time.Second)
	return c
}

// Nodes returns the cluster's nodes in start order.
func (c *Cluster) Nodes() []*Node { return c.nodes }

// URLs returns the client URLs of every node, starting with node first's:
// a client given them connects to first and fails over to the others.
func (c *Cluster) URLs(first int) string {
	var urls []string
	for i := range c.nodes {
		urls = append(urls, c.nodes[(first+i)%len(c.nodes)].URL())
	}
	return strings.Join(urls, ",")
}

// WaitReady waits until the running nodes have one meta leader that sees
// all of them and each of them is current.
func (c *Cluster) WaitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if c.ready() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not ready in %v", timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *Cluster) ready() bool {
	running, leaders := 0, 0
	var leader *server.Server
	for _, nd := range c.nodes {
		s := nd.Server()
		if s == nil {
			continue
		}
		running++
		if !s.JetStreamIsCurrent() {
			return false
		}
		if s.JetStreamIsLeader() {
			leaders++
			leader = s
		}
	}
	return leaders == 1 && len(leader.JetStreamClusterPeers()) == running
}

// MetaLeader returns the node leading the JetStream meta group, or nil.
func (c *Cluster) MetaLeader() *Node {
	for _, nd := range c.nodes {
		if s := nd.Server(); s != nil && s.JetStreamIsLeader() {
			return nd
		}
	}
	return nil
}

// StreamLeader returns the node leading stream of account ("$G" without
// accounts), or nil.
func (c *Cluster) StreamLeader(account, stream string) *Node {
	for _, nd := range c.nodes {
		if s := nd.Server(); s != nil && s.JetStreamIsStreamLeader(account, stream) {
			return nd
		}
	}
	return nil
}

// ConsumerLeader returns the node leading a consumer, or nil.
func (c *Cluster) ConsumerLeader(account, stream, consumer string) *Node {
	for _, nd := range c.nodes {
		if s := nd.Server(); s != nil && s.JetStreamIsConsumerLeader(account, stream, consumer) {
			return nd
		}
	}
	return nil
}

// URL is the node's client URL (the same after a restart).
func (n *Node) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.clientPort) }

// Server returns the running server, or nil while the node is down.
func (n *Node) Server() *server.Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.srv
}

// Shutdown stops the node without handing its leaderships over first, as a
// crash would (lame-duck mode would transfer them). It is a no-op when the
// node is down.
func (n *Node) Shutdown() {
	n.mu.Lock()
	s := n.srv
	n.srv = nil
	n.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// Restart starts a stopped node again from its store dir, on its ports.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	if err := n.start(); err != nil {
		t.Fatal(err)
	}
}

func (n *Node) options() *server.Options {
	o := natsserver.DefaultTestOptions // a copy: never mutate the shared global
	o.ServerName = n.Name
	o.Host = "127.0.0.1"
	o.Port = n.clientPort
	o.JetStream = true
	o.StoreDir = n.StoreDir
	o.JetStreamMaxMemory = 256 << 20
	o.JetStreamMaxStore = 2 << 30
	o.Cluster.Name = ClusterName
	o.Cluster.Host = "127.0.0.1"
	o.Cluster.Port = n.clusterPort
	o.Routes = server.RoutesFromStr(n.routes)
	if os.Getenv("NATS_LOGGING") != "" { // as natsserver.RunServer: server logs on demand
		o.NoLog = false
	}
	return &o
}

func (n *Node) start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.srv != nil {
		return fmt.Errorf("node %s already running", n.Name)
	}
	o := n.options()
	s, err := server.NewServer(o)
	if err != nil {
		return fmt.Errorf("node %s: %w", n.Name, err)
	}
	if !o.NoLog {
		s.ConfigureLogger()
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return fmt.Errorf("node %s not ready in 30s", n.Name)
	}
	n.srv = s
	return nil
}

// freePorts reserves n distinct loopback ports at random and releases them
// for the servers to bind. Route URLs must be known before the servers
// start, and a restarted node must come back on its ports, so -1 (a port
// chosen at bind time) does not do here.
func freePorts(t testing.TB, n int) []int {
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
