package httpclient

import (
	"io"
	"net/http"
)

// RoundTrip sends req on tr and reads the answer's body, at most limit
// bytes of it (a longer body is cut there).
func RoundTrip(tr http.RoundTripper, req *http.Request, limit int64) (status int, header http.Header, body []byte, err error) {
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, b, nil
}
