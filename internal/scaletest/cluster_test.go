package scaletest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/proctest"
)

// authConf is the server configuration every node runs: the shipped one.
const authConf = "../../deploy/nats-server/pushfleet-auth.conf"

// account holds every pushfleet stream (authConf).
const account = "PUSHFLEET"

// passwordRef is a password reference of authConf: each user's password
// is in $<USER>_NATS_PASSWORD of the servers' environment.
var passwordRef = regexp.MustCompile(`\$([A-Z0-9_]+_NATS_PASSWORD)\b`)

func passwordEnv(user string) string {
	return strings.ToUpper(strings.ReplaceAll(user, "-", "_")) + "_NATS_PASSWORD"
}

// storeDirLine is authConf's store_dir: each node gets its own with -sd
// instead (the server refuses both).
var storeDirLine = regexp.MustCompile(`(?m)^\s*store_dir:.*$`)

// lameDuck shortens the lame-duck mode of a rolling restart to the least
// the server allows (its default spreads client disconnects over two
// minutes; it closes at most one client a second, so a node with a few
// clients leaves within seconds); the chart's preStop hook puts a node in
// lame duck mode the same way (SIGUSR2, the "ldm" signal).
const lameDuck = `
lame_duck_duration: "30s"
lame_duck_grace_period: "1s"
`

// node is one nats-server process.
type node struct {
	name                    string
	port, routePort, httpPt int
	storeDir                string
	proc                    *proctest.Proc
}

func (n *node) url() string     { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }
func (n *node) monitor() string { return fmt.Sprintf("127.0.0.1:%d", n.httpPt) }

// cluster is three nats-server processes routed to each other.
type cluster struct {
	t         *testing.T
	nodes     []*node
	passwords map[string]string
}

// startCluster starts three nodes, n1…n3, on loopback ports of their own,
// and waits until JetStream is healthy on each.
func startCluster(t *testing.T, logDir string) *cluster {
	t.Helper()
	c := &cluster{t: t, passwords: map[string]string{}}
	b, err := os.ReadFile(authConf)
	if err != nil {
		t.Fatal(err)
	}
	// A password for every user the configuration names, whoever was added.
	env := proctest.Environ()
	for _, m := range passwordRef.FindAllSubmatch(b, -1) {
		name := string(m[1])
		if _, ok := c.passwords[name]; !ok {
			c.passwords[name] = randomHex(t)
			// The server reads the variable as a config value: quoted, a string.
			env = append(env, name+`="`+c.passwords[name]+`"`)
		}
	}
	conf := filepath.Join(t.TempDir(), "pushfleet-auth.conf")
	if err := os.WriteFile(conf, append(storeDirLine.ReplaceAll(b, nil), lameDuck...), 0o600); err != nil {
		t.Fatal(err)
	}
	const n = 3
	ports := natstest.FreePorts(t, 3*n)
	var routes []string
	for i := range n {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[n+i]))
	}
	bin := binaries.Path(t, "nats-server")
	for i := range n {
		nd := &node{name: fmt.Sprintf("n%d", i+1), port: ports[i], routePort: ports[n+i], httpPt: ports[2*n+i],
			storeDir: filepath.Join(t.TempDir(), "store")}
		args := []string{"-c", conf, "-n", nd.name, "-a", "127.0.0.1", "-p", fmt.Sprint(nd.port),
			"-m", fmt.Sprint(nd.httpPt), "-sd", nd.storeDir,
			"--cluster_name", natstest.ClusterName, "--cluster", fmt.Sprintf("nats://127.0.0.1:%d", nd.routePort),
			"--routes", strings.Join(routes, ",")}
		// Not waited for one by one: a node is healthy only once the others
		// are there.
		nd.proc = proctest.Start(t, proctest.Spec{Name: nd.name, Path: bin, Args: args, Env: env,
			LogPath: filepath.Join(logDir, nd.name+".log"), StopTimeout: 10 * time.Second})
		c.nodes = append(c.nodes, nd)
	}
	c.waitHealthy(60 * time.Second)
	return c
}

// urls is every node's client URL, node first first.
func (c *cluster) urls(first int) string {
	var out []string
	for i := range c.nodes {
		out = append(out, c.nodes[(first+i)%len(c.nodes)].url())
	}
	return strings.Join(out, ",")
}

// byName returns the node named name, or nil.
func (c *cluster) byName(name string) *node {
	for _, n := range c.nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

// healthy reports whether the node answers /healthz with 200: JetStream
// enabled and current with the meta group and its assets.
func (n *node) healthy() bool {
	client := http.Client{Timeout: time.Second}
	resp, err := client.Get("http://" + n.monitor() + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// waitHealthy waits until every running node is healthy.
func (c *cluster) waitHealthy(timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok := true
		for _, n := range c.nodes {
			if !n.proc.Running() {
				c.t.Fatalf("%s exited:\n%s", n.name, proctest.Tail(n.proc.LogPath(), 20))
			}
			ok = ok && n.healthy()
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			for _, n := range c.nodes {
				c.t.Logf("%s healthy=%v running=%v", n.name, n.healthy(), n.proc.Running())
			}
			c.t.Fatalf("cluster not healthy in %v", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill SIGKILLs a node.
func (c *cluster) kill(n *node) { n.proc.Kill(c.t) }

// restart starts a stopped node again from its store and waits until it is
// healthy (caught up).
func (c *cluster) restart(n *node, timeout time.Duration) {
	c.t.Helper()
	n.proc.Restart(c.t)
	deadline := time.Now().Add(timeout)
	for !n.healthy() {
		if time.Now().After(deadline) {
			c.t.Fatalf("%s not healthy %v after its restart", n.name, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lameDuckStop puts a node in lame duck mode (SIGUSR2), as the chart's
// preStop hook does, and waits until it exited by itself.
func (c *cluster) lameDuckStop(n *node) {
	c.t.Helper()
	if err := n.proc.Signal(syscall.SIGUSR2); err != nil {
		c.t.Fatal(err)
	}
	select {
	case <-n.proc.Exited():
	case <-time.After(30 * time.Second):
		c.t.Fatalf("%s did not leave lame duck mode in 30s", n.name)
	}
}

// ---------------------------------------------------------------- /jsz

// jsz is the part of /jsz?acc=…&consumers=true&config=true that the
// tests and KEDA's nats-jetstream scaler read.
type jsz struct {
	ServerName  string `json:"server_name"`
	MetaCluster struct {
		Leader      string `json:"leader"`
		ClusterSize int    `json:"cluster_size"`
	} `json:"meta_cluster"`
	Accounts []struct {
		Name    string `json:"name"`
		Streams []struct {
			Name    string `json:"name"`
			Cluster struct {
				Leader string `json:"leader"`
			} `json:"cluster"`
			State struct {
				Messages uint64 `json:"messages"`
				LastSeq  uint64 `json:"last_seq"`
			} `json:"state"`
			Consumers []struct {
				Name          string `json:"name"`
				NumPending    uint64 `json:"num_pending"`
				NumAckPending int    `json:"num_ack_pending"`
				NumWaiting    int    `json:"num_waiting"`
				Cluster       struct {
					Leader string `json:"leader"`
				} `json:"cluster"`
			} `json:"consumer_detail"`
		} `json:"stream_detail"`
	} `json:"account_details"`
}

// jsz reads the node's /jsz for account acc, as KEDA's scaler does.
func (n *node) jsz(ctx context.Context, acc string) (*jsz, error) {
	u := fmt.Sprintf("http://%s/jsz?acc=%s&consumers=true&config=true", n.monitor(), acc)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", u, resp.Status)
	}
	var j jsz
	if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	return &j, nil
}

// leaders returns, from the first running node that answers, the leader of
// each stream (by stream name) and of each consumer ("stream/consumer").
func (c *cluster) leaders() map[string]string {
	for _, n := range c.nodes {
		if !n.proc.Running() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		j, err := n.jsz(ctx, account)
		cancel()
		if err != nil {
			continue
		}
		out := map[string]string{"meta": j.MetaCluster.Leader}
		for _, a := range j.Accounts {
			for _, s := range a.Streams {
				out[s.Name] = s.Cluster.Leader
				for _, cd := range s.Consumers {
					out[s.Name+"/"+cd.Name] = cd.Cluster.Leader
				}
			}
		}
		return out
	}
	return nil
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// traceConsumers logs, every second until stop is closed, the state of the
// consumers in use as the first live node reports it (num_pending,
// num_ack_pending, num_waiting: pull requests parked on the leader, and the
// leader): with PUSHFLEET_SCALE_TRACE=1, to see where a stall comes from.
func (c *cluster) traceConsumers(stop <-chan struct{}) {
	if os.Getenv("PUSHFLEET_SCALE_TRACE") == "" {
		return
	}
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		var parts []string
		for _, n := range c.nodes {
			if !n.proc.Running() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 900*time.Millisecond)
			j, err := n.jsz(ctx, account)
			cancel()
			if err != nil {
				continue
			}
			for _, a := range j.Accounts {
				for _, s := range a.Streams {
					for _, cd := range s.Consumers {
						if inUse[s.Name+"/"+cd.Name] {
							parts = append(parts, fmt.Sprintf("%s/%s[%s] pend=%d ack=%d wait=%d", s.Name, cd.Name, cd.Cluster.Leader,
								cd.NumPending, cd.NumAckPending, cd.NumWaiting))
						}
					}
				}
			}
			break
		}
		sortStrings(parts)
		c.t.Logf("trace +%.0fs %s", time.Since(start).Seconds(), strings.Join(parts, " | "))
	}
}

// password is user's password (its $<USER>_NATS_PASSWORD).
func (c *cluster) password(user string) string {
	pw, ok := c.passwords[passwordEnv(user)]
	if !ok {
		c.t.Fatalf("no user %q in %s", user, authConf)
	}
	return pw
}
