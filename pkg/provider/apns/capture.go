package apns

import (
	"context"
	"io"
	"net/http"
)

// maxErrorBody bounds how much of an error answer is kept; APNs error bodies
// are a few dozen bytes.
const maxErrorBody = 2048

// capture records what apns2 hides from its caller: the request's bearer,
// the response's status and Retry-After header, and the raw error body (so a
// non-JSON body or a millisecond timestamp is not lost). One capture serves
// one request; it travels in the request's context.
type capture struct {
	authorization string
	status        int
	retryAfter    string
	body          []byte
}

type captureKey struct{}

func withCapture(ctx context.Context, c *capture) context.Context {
	return context.WithValue(ctx, captureKey{}, c)
}

// captureTransport is the http.RoundTripper of every connection: it fills the
// request's capture and passes everything else through.
type captureTransport struct {
	next *http.Transport
}

func (t captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c, _ := req.Context().Value(captureKey{}).(*capture)
	if c != nil {
		c.authorization = req.Header.Get("authorization")
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil || c == nil {
		return resp, err
	}
	c.status = resp.StatusCode
	c.retryAfter = resp.Header.Get("Retry-After")
	if resp.StatusCode != http.StatusOK {
		resp.Body = &teeBody{ReadCloser: resp.Body, c: c}
	}
	return resp, nil
}

// CloseIdleConnections lets apns2.Client.CloseIdleConnections work.
func (t captureTransport) CloseIdleConnections() { t.next.CloseIdleConnections() }

// teeBody keeps the first maxErrorBody bytes read from an error answer.
type teeBody struct {
	io.ReadCloser
	c *capture
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if room := maxErrorBody - len(b.c.body); room > 0 && n > 0 {
		b.c.body = append(b.c.body, p[:min(n, room)]...)
	}
	return n, err
}
