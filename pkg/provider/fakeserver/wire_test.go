package fakeserver

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestFrameScannerSplitsAnywhere: the counts do not depend on how the
// stream is cut into reads.
func TestFrameScannerSplitsAnywhere(t *testing.T) {
	var stream bytes.Buffer
	stream.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&stream, nil)
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	enc.WriteField(hpack.HeaderField{Name: ":path", Value: "/3/device/abc"})
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndHeaders: false}); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteContinuation(1, true, []byte{0x82}); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteData(1, true, []byte(`{"aps":{}}`)); err != nil {
		t.Fatal(err)
	}
	if err := fr.WritePing(false, [8]byte{}); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteWindowUpdate(0, 100); err != nil {
		t.Fatal(err)
	}
	raw := stream.Bytes()
	want := WireDirection{Bytes: int64(len(raw)), HeaderBytes: int64(block.Len() + 1)}
	for _, ft := range []http2.FrameType{http2.FrameSettings, http2.FrameHeaders, http2.FrameContinuation,
		http2.FrameData, http2.FramePing, http2.FrameWindowUpdate} {
		want.Frames[ft] = 1
	}
	for _, chunk := range []int{1, 2, 7, 9, 10, len(raw)} {
		var totals wireTotals
		s := frameScanner{t: &totals, skip: clientPreface}
		for p := raw; len(p) > 0; {
			n := min(chunk, len(p))
			s.scan(p[:n])
			p = p[n:]
		}
		got := totals.snapshot()
		if got != want {
			t.Errorf("chunks of %d: got %+v, want %+v", chunk, got, want)
		}
	}
}

// TestWireCounterCountsRequests: a fake served with a WireCounter still
// answers over HTTP/2 with r.TLS set, and counts each request's frames.
func TestWireCounterCountsRequests(t *testing.T) {
	s, err := Listen("wiretest")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var w WireCounter
	s.Serve(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.ProtoMajor != 2 || r.TLS == nil || string(body) != "hello" {
			http.Error(rw, "want HTTP/2 over TLS with the body", http.StatusBadRequest)
			return
		}
		rw.WriteHeader(http.StatusNoContent)
	}), ServeOptions{Wire: &w})
	c := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: s.CertPool()},
		ForceAttemptHTTP2: true,
	}}
	const n = 3
	for range n {
		resp, err := c.Post(s.URL(), "text/plain", strings.NewReader("hello"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	got := w.Snapshot()
	if h := got.In.Frame(http2.FrameHeaders); h != n {
		t.Errorf("HEADERS in = %d, want %d", h, n)
	}
	if d := got.In.Frame(http2.FrameData); d < n {
		t.Errorf("DATA in = %d, want at least %d", d, n)
	}
	if got.In.Frame(http2.FrameSettings) < 1 || got.Out.Frame(http2.FrameSettings) < 1 {
		t.Errorf("no SETTINGS counted: %+v", got)
	}
	if h := got.Out.Frame(http2.FrameHeaders); h != n {
		t.Errorf("HEADERS out = %d, want %d", h, n)
	}
	if got.In.HeaderBytes <= 0 || got.In.Bytes <= got.In.HeaderBytes || got.In.TCPBytes <= got.In.Bytes ||
		got.In.Syscalls <= 0 || got.Out.Syscalls <= 0 {
		t.Errorf("byte counts: %+v", got.In)
	}
	perReq := map[string]float64{}
	for _, m := range got.PerRequest(n) {
		perReq[m.Unit] = m.Value
	}
	if perReq["HEADERS/req"] != 1 || perReq["B/req"] != float64(got.In.Bytes)/n {
		t.Errorf("PerRequest(%d) = %v", n, perReq)
	}
	if d := got.Sub(got); d != (Wire{}) {
		t.Errorf("Sub of itself = %+v", d)
	}
}
