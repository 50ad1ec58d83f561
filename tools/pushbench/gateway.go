package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/pushfleet/pushfleet/internal/gateway"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// gwClient posts intents to the fleet's HTTP push gateway over one shared
// keep-alive http.Client: at most conns connections, as many as there are
// publishers, so that every request reuses one.
type gwClient struct {
	url    string // …/v1/intents
	auth   string // "Bearer <key>"
	client *http.Client
}

// writeGatewayKeys makes a random API key allowed to publish for benchApp
// without a rate limit worth the name, writes the keys file (its SHA-256
// only) into dir and returns the key and the file's path.
func writeGatewayKeys(dir string) (key, path string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	key = base64.RawURLEncoding.EncodeToString(b[:])
	f := gateway.KeysFile{Keys: []gateway.KeyEntry{{Name: "pushbench", SHA256: gateway.HashKey(key),
		Apps: []string{benchApp}, Rate: 1e9, Burst: 1e9}}}
	j, err := json.Marshal(f)
	if err != nil {
		return "", "", err
	}
	path = filepath.Join(dir, "gateway-keys.json")
	return key, path, os.WriteFile(path, j, 0o600)
}

func newGWClient(base, key string, conns int) (*gwClient, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("gateway URL %q: %v", base, err)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("gateway URL %q: loopback only", base)
	}
	tr := &http.Transport{
		Proxy:               nil, // loopback: never through a proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &gwClient{url: base + "/v1/intents", auth: "Bearer " + key,
		client: &http.Client{Transport: tr, Timeout: 60 * time.Second}}, nil
}

func (c *gwClient) close() { c.client.CloseIdleConnections() }

// post sends intents in one POST /v1/intents (one intent as an object, more
// as an array) and says which were stored (or already were: duplicate).
func (c *gwClient) post(ctx context.Context, ins []*events.Intent) ([]bool, error) {
	var body []byte
	var err error
	if len(ins) == 1 {
		body, err = json.Marshal(ins[0])
	} else {
		body, err = json.Marshal(ins)
	}
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", c.auth)
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20)) // read it all: the connection is reused
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusMultiStatus {
		return nil, fmt.Errorf("gateway: %s: %s", resp.Status, firstLine(string(rb)))
	}
	var ir gateway.IntentsResponse
	if err := json.Unmarshal(rb, &ir); err != nil {
		return nil, fmt.Errorf("gateway answer: %w", err)
	}
	ok := make([]bool, len(ins))
	for _, r := range ir.Intents {
		if r.Index >= 0 && r.Index < len(ok) && r.Error == nil && r.Status == http.StatusOK {
			ok[r.Index] = true
		}
	}
	if resp.StatusCode == http.StatusMultiStatus {
		return ok, fmt.Errorf("gateway: 207: %d of %d intents failed", ir.Failed, len(ins))
	}
	return ok, nil
}
