package faulttest

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// pubGate is a TCP proxy between NATS clients and the server that lets the
// clients' first limit publishes to subjects under prefix through and then
// drops everything they send (the server's side keeps flowing). A process
// behind it is frozen at an exact point of its work, whatever the machine's
// load, instead of at a point a test hopes to catch in time.
type pubGate struct {
	ln     net.Listener
	target string
	prefix []byte
	limit  int64

	passed   atomic.Int64
	held     chan struct{}
	holdOnce sync.Once
	wg       sync.WaitGroup
}

func newPubGate(t *testing.T, target, prefix string, limit int) *pubGate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &pubGate{ln: ln, target: target, prefix: []byte(prefix), limit: int64(limit), held: make(chan struct{})}
	g.wg.Add(1)
	go g.accept()
	t.Cleanup(func() { ln.Close(); g.wg.Wait() })
	return g
}

// URL is the NATS URL of the gate.
func (g *pubGate) URL() string { return "nats://" + g.ln.Addr().String() }

// Held is closed once limit publishes went through and the gate drops
// what follows.
func (g *pubGate) Held() <-chan struct{} { return g.held }

func (g *pubGate) accept() {
	defer g.wg.Done()
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", g.target)
		if err != nil {
			c.Close()
			continue
		}
		g.wg.Add(2)
		go func() { defer g.wg.Done(); _, _ = io.Copy(c, s); c.Close() }()
		go func() { defer g.wg.Done(); g.forward(s, c); s.Close() }()
	}
}

// forward copies the client protocol from c to s one operation at a time,
// counting publishes, until the limit is reached; nothing the client
// sends after that reaches the server.
func (g *pubGate) forward(s net.Conn, c net.Conn) {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		op, subject, size := parseClientOp(line)
		msg := line
		if size >= 0 {
			payload := make([]byte, size+2) // payload and its CRLF
			if _, err := io.ReadFull(r, payload); err != nil {
				return
			}
			msg = append(line, payload...)
		}
		if _, err := s.Write(msg); err != nil {
			return
		}
		if (op == "PUB" || op == "HPUB") && bytes.HasPrefix(subject, g.prefix) && g.passed.Add(1) >= g.limit {
			g.holdOnce.Do(func() { close(g.held) })
			// From here on the server hears nothing more from this client;
			// its bytes are read only so that it never blocks on a write.
			_, _ = io.Copy(io.Discard, c)
			return
		}
	}
}

// parseClientOp reads a NATS client protocol line: the operation, and for
// PUB and HPUB the subject and the size of the payload that follows
// (size is -1 for operations without one).
func parseClientOp(line []byte) (op string, subject []byte, size int) {
	f := bytes.Fields(line)
	if len(f) == 0 {
		return "", nil, -1
	}
	op = string(bytes.ToUpper(f[0]))
	if (op != "PUB" && op != "HPUB") || len(f) < 3 {
		return op, nil, -1
	}
	n, err := strconv.Atoi(string(f[len(f)-1]))
	if err != nil || n < 0 {
		return op, nil, -1
	}
	return op, f[1], n
}
