package fakeserver

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync/atomic"

	"golang.org/x/net/http2"
)

// numFrameTypes covers the frame types of RFC 9113 (DATA 0x0 … CONTINUATION
// 0x9); others (extensions) are counted as bytes only.
const numFrameTypes = int(http2.FrameContinuation) + 1

// clientPreface opens every HTTP/2 client connection; it is not a frame.
const clientPreface = len(http2.ClientPreface)

// WireCounter counts what crossed a fake's connections: inside TLS, the
// HTTP/2 bytes, frames by type and header block bytes; under TLS, the TCP
// bytes and the read and write calls on the socket (how many flushes
// arrived separately: each costs the fake a system call and a TLS record
// decryption). It is off unless a fake is given one (ServeOptions.Wire,
// apnsfake.Options.Wire): counting inside TLS replaces net/http's built-in
// HTTP/2 server by golang.org/x/net/http2's (the same code), which accepts
// a wrapped connection. HTTP/1.1 connections get only the TCP counts.
// Safe for concurrent use.
type WireCounter struct {
	in, out wireTotals
}

type wireTotals struct {
	bytes, headerBytes atomic.Int64
	frames             [numFrameTypes]atomic.Int64
	tcpBytes, syscalls atomic.Int64
}

// WireDirection is what crossed the wire one way.
type WireDirection struct {
	// Bytes is the plaintext HTTP/2 bytes (preface and frame headers
	// included, TLS framing excluded).
	Bytes int64
	// HeaderBytes is the payload of HEADERS and CONTINUATION frames: the
	// HPACK-encoded header blocks.
	HeaderBytes int64
	// Frames counts frames by type, indexed by http2.FrameType.
	Frames [numFrameTypes]int64
	// TCPBytes is the bytes on the socket (TLS records included), Syscalls
	// the socket reads (client to fake) or writes (fake to client).
	TCPBytes, Syscalls int64
}

// Wire is a snapshot of a WireCounter.
type Wire struct {
	// In is what clients sent the fake, Out what the fake sent back.
	In, Out WireDirection
}

// Snapshot returns the counts so far.
func (w *WireCounter) Snapshot() Wire {
	return Wire{In: w.in.snapshot(), Out: w.out.snapshot()}
}

func (t *wireTotals) snapshot() WireDirection {
	d := WireDirection{Bytes: t.bytes.Load(), HeaderBytes: t.headerBytes.Load(),
		TCPBytes: t.tcpBytes.Load(), Syscalls: t.syscalls.Load()}
	for i := range t.frames {
		d.Frames[i] = t.frames[i].Load()
	}
	return d
}

// Sub is w minus an earlier snapshot o: what crossed in between.
func (w Wire) Sub(o Wire) Wire { return Wire{In: w.In.sub(o.In), Out: w.Out.sub(o.Out)} }

func (d WireDirection) sub(o WireDirection) WireDirection {
	r := WireDirection{Bytes: d.Bytes - o.Bytes, HeaderBytes: d.HeaderBytes - o.HeaderBytes,
		TCPBytes: d.TCPBytes - o.TCPBytes, Syscalls: d.Syscalls - o.Syscalls}
	for i := range d.Frames {
		r.Frames[i] = d.Frames[i] - o.Frames[i]
	}
	return r
}

// Frame is the count of frames of type t.
func (d WireDirection) Frame(t http2.FrameType) int64 {
	if int(t) >= numFrameTypes {
		return 0
	}
	return d.Frames[t]
}

// Instrument makes srv, before it serves, serve HTTP/2 through x/net's
// server on connections whose traffic w counts. srv's protocols must
// include HTTP/2; maxStreams is the per-connection stream limit (0: 250).
func (w *WireCounter) Instrument(srv *http.Server, maxStreams int) {
	h2 := &http2.Server{MaxConcurrentStreams: uint32(max(maxStreams, 0))}
	srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){
		http2.NextProtoTLS: func(hs *http.Server, c *tls.Conn, h http.Handler) {
			// h is net/http's per-connection handler: it carries the
			// connection's context (ConnContext) and fills r.TLS.
			ctx := context.Background()
			if bc, ok := h.(interface{ BaseContext() context.Context }); ok {
				ctx = bc.BaseContext()
			}
			wc := &wireConn{Conn: c, tc: c, in: frameScanner{t: &w.in, skip: clientPreface}, out: frameScanner{t: &w.out}}
			h2.ServeConn(wc, &http2.ServeConnOpts{Context: ctx, Handler: h, BaseConfig: hs})
		},
	}
}

// Listener wraps ln so that w counts its connections' TCP traffic; the
// fake serves TLS on the wrapped listener.
func (w *WireCounter) Listener(ln net.Listener) net.Listener { return tcpListener{ln, w} }

type tcpListener struct {
	net.Listener
	w *WireCounter
}

func (l tcpListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tcpConn{Conn: c, w: l.w}, nil
}

// tcpConn counts a socket's bytes and calls.
type tcpConn struct {
	net.Conn
	w *WireCounter
}

func (c *tcpConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.w.in.tcpBytes.Add(int64(n))
	c.w.in.syscalls.Add(1)
	return n, err
}

func (c *tcpConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.w.out.tcpBytes.Add(int64(n))
	c.w.out.syscalls.Add(1)
	return n, err
}

// wireConn counts a TLS connection's plaintext both ways. Reads happen on
// one goroutine and writes are serialised by the HTTP/2 server, so each
// scanner is used by one goroutine at a time.
type wireConn struct {
	net.Conn
	tc      *tls.Conn
	in, out frameScanner
}

func (c *wireConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.scan(p[:n])
	return n, err
}

func (c *wireConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.scan(p[:n])
	return n, err
}

// ConnectionState lets the HTTP/2 server see the TLS state (version and
// cipher checks, r.TLS).
func (c *wireConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// frameScanner splits a byte stream into HTTP/2 frames by their 9-byte
// headers, skipping payloads, and adds to t.
type frameScanner struct {
	t    *wireTotals
	skip int // bytes of preface or payload still to skip
	hdr  [9]byte
	hn   int // bytes of hdr filled
}

func (s *frameScanner) scan(p []byte) {
	if len(p) == 0 {
		return
	}
	s.t.bytes.Add(int64(len(p)))
	for len(p) > 0 {
		if s.skip > 0 {
			n := min(s.skip, len(p))
			s.skip -= n
			p = p[n:]
			continue
		}
		n := copy(s.hdr[s.hn:], p)
		s.hn += n
		p = p[n:]
		if s.hn < len(s.hdr) {
			return
		}
		s.hn = 0
		length := int(s.hdr[0])<<16 | int(s.hdr[1])<<8 | int(s.hdr[2])
		if t := http2.FrameType(s.hdr[3]); int(t) < numFrameTypes {
			s.t.frames[t].Add(1)
			if t == http2.FrameHeaders || t == http2.FrameContinuation {
				s.t.headerBytes.Add(int64(length))
			}
		}
		s.skip = length
	}
}

// WireMetric is one per-request figure of a Wire, for testing.B.ReportMetric.
type WireMetric struct {
	Value float64
	Unit  string
}

// reportedFrames are the frame types PerRequest reports, client to fake.
var reportedFrames = []http2.FrameType{http2.FrameHeaders, http2.FrameContinuation, http2.FrameData,
	http2.FrameSettings, http2.FramePing, http2.FrameWindowUpdate, http2.FrameRSTStream}

// PerRequest is w over n requests: client-to-fake HTTP/2 bytes ("B/req"),
// header block bytes ("hdrB/req"), TCP bytes and socket reads
// ("tcpB/req", "reads/req") and frames by type ("HEADERS/req"…), then
// fake-to-client HTTP/2 bytes and socket writes ("out-B/req",
// "writes/req").
func (w Wire) PerRequest(n int64) []WireMetric {
	if n <= 0 {
		return nil
	}
	per := func(v int64) float64 { return float64(v) / float64(n) }
	ms := []WireMetric{
		{per(w.In.Bytes), "B/req"}, {per(w.In.HeaderBytes), "hdrB/req"},
		{per(w.In.TCPBytes), "tcpB/req"}, {per(w.In.Syscalls), "reads/req"},
	}
	for _, t := range reportedFrames {
		ms = append(ms, WireMetric{per(w.In.Frame(t)), t.String() + "/req"})
	}
	return append(ms, WireMetric{per(w.Out.Bytes), "out-B/req"}, WireMetric{per(w.Out.Syscalls), "writes/req"})
}
