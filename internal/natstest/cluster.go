package natstest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ClusterName is the NATS cluster name of every Cluster.
const ClusterName = "pushfleet"

// Cluster is a set of clustered JetStream servers on 127.0.0.1, each with
// its own store under t.TempDir() and routes to all the others, so that a
// node can be shut down and restarted from its store while the others go on.
type Cluster struct {
	nodes []*Server
}

// StartCluster starts n clustered servers, named n1…nN, and waits until the
// JetStream meta group has a leader and every node is current. Every
// running node is shut down at the end of the test.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("natstest: a cluster of %d servers", n)
	}
	ports := FreePorts(t, 2*n)
	var routes []string
	for i := range n {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[n+i]))
	}
	c := &Cluster{}
	for i := range n {
		o := Options(t.TempDir())
		o.ServerName = fmt.Sprintf("n%d", i+1)
		o.Port = ports[i]
		o.JetStreamMaxMemory = 256 << 20
		o.JetStreamMaxStore = 2 << 30
		o.Cluster.Name = ClusterName
		o.Cluster.Host = "127.0.0.1"
		o.Cluster.Port = ports[n+i]
		o.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		c.nodes = append(c.nodes, &Server{Name: o.ServerName, StoreDir: o.StoreDir, opts: o})
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			nd.Shutdown()
		}
	})
	errs := make([]error, n)
	var wg sync.WaitGroup
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

// Nodes returns the cluster's servers in start order (n1 first).
func (c *Cluster) Nodes() []*Server { return c.nodes }

// URLs returns the client URLs of every node, comma-separated, starting
// with node first's: a client given them (with nats.DontRandomize) connects
// to that node and fails over to the others.
func (c *Cluster) URLs(first int) string {
	var urls []string
	for i := range c.nodes {
		urls = append(urls, c.nodes[(first+i)%len(c.nodes)].URL())
	}
	return strings.Join(urls, ",")
}

// WaitReady waits until the running nodes have one meta leader that sees
// all of them and each of them is current; it fails the test after timeout.
// Call it after a Restart to wait for the node to rejoin.
func (c *Cluster) WaitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !c.ready() {
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
func (c *Cluster) MetaLeader() *Server {
	return c.find(func(s *server.Server) bool { return s.JetStreamIsLeader() })
}

// StreamLeader returns the node leading stream of account ("$G" without
// accounts), or nil.
func (c *Cluster) StreamLeader(account, stream string) *Server {
	return c.find(func(s *server.Server) bool { return s.JetStreamIsStreamLeader(account, stream) })
}

// ConsumerLeader returns the node leading consumer of stream of account,
// or nil.
func (c *Cluster) ConsumerLeader(account, stream, consumer string) *Server {
	return c.find(func(s *server.Server) bool { return s.JetStreamIsConsumerLeader(account, stream, consumer) })
}

// find returns the first running node for which is holds, or nil.
func (c *Cluster) find(is func(*server.Server) bool) *Server {
	for _, nd := range c.nodes {
		if s := nd.Server(); s != nil && is(s) {
			return nd
		}
	}
	return nil
}
