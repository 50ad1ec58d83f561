package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
	"sigs.k8s.io/yaml"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// KeysFile is the API keys file, in YAML or JSON:
//
//	keys:
//	  - name: shop-backend     # in logs and problem bodies; never the key
//	    sha256: 5e884898...    # hex SHA-256 of the key (printf %s "$KEY" | sha256sum)
//	    apps: [shop]           # apps the key may publish for; "*" is every app
//	    rate: 20               # optional: requests per second (default --gateway-rate)
//	    burst: 40              # optional: default --gateway-burst
//
// Only hashes are stored. SHA-256, not bcrypt: API keys are random secrets
// of at least 128 bits (generate them with `openssl rand -base64 32`), so a
// fast hash cannot be brute-forced, and it lets every request find its key
// with one hash and a map lookup; bcrypt would spend tens of milliseconds of
// CPU per request (before any rate limit can apply, since the key is not
// known until it is verified), a denial of service on its own.
type KeysFile struct {
	Keys []KeyEntry `json:"keys"`
}

// KeyEntry is one API key.
type KeyEntry struct {
	Name   string   `json:"name"`
	SHA256 string   `json:"sha256"`
	Apps   []string `json:"apps"`
	Rate   float64  `json:"rate,omitempty"`
	Burst  int      `json:"burst,omitempty"`
}

// HashKey is the hex SHA-256 of an API key, as the keys file stores it.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// ParseKeys reads a keys file's content and checks every entry.
func ParseKeys(b []byte) (*KeysFile, error) {
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, fmt.Errorf("keys file: %w", err)
	}
	var f KeysFile
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("keys file: %w", err)
	}
	names := map[string]bool{}
	hashes := map[string]bool{}
	for i, k := range f.Keys {
		where := fmt.Sprintf("keys file: key %d (%q)", i, k.Name)
		switch {
		case k.Name == "":
			return nil, fmt.Errorf("%s: name is required", where)
		case names[k.Name]:
			return nil, fmt.Errorf("%s: name used twice", where)
		case len(k.SHA256) != 64 || !isHex(k.SHA256):
			return nil, fmt.Errorf("%s: sha256 must be 64 hex digits (the SHA-256 of the key, never the key)", where)
		case hashes[strings.ToLower(k.SHA256)]:
			return nil, fmt.Errorf("%s: the same key hash is listed twice", where)
		case len(k.Apps) == 0:
			return nil, fmt.Errorf("%s: apps is required (app names, or \"*\" for every app)", where)
		case k.Rate < 0 || k.Burst < 0:
			return nil, fmt.Errorf("%s: rate and burst must not be negative", where)
		}
		for _, a := range k.Apps {
			if a != "*" && !events.ValidApp(a) {
				return nil, fmt.Errorf("%s: app %q: names are 1-64 characters of A-Z a-z 0-9 _ -", where, a)
			}
		}
		names[k.Name] = true
		hashes[strings.ToLower(k.SHA256)] = true
	}
	return &f, nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// Key is a loaded API key.
type Key struct {
	Name    string
	Apps    []string // sorted; "*" is every app
	limiter *rate.Limiter
	rate    rate.Limit
	burst   int
}

// Allows reports whether the key may publish for app.
func (k *Key) Allows(app string) bool {
	_, ok := slices.BinarySearch(k.Apps, app)
	return ok || slices.Contains(k.Apps, "*")
}

// onlyApp is the key's app when it has exactly one (not "*").
func (k *Key) onlyApp() string {
	if len(k.Apps) == 1 && k.Apps[0] != "*" {
		return k.Apps[0]
	}
	return ""
}

// Keys is the live set of API keys, swapped whole on reload.
type Keys struct {
	set   atomic.Pointer[map[string]*Key] // hex sha256 → key
	rate  rate.Limit
	burst int
	mu    sync.Mutex // serialises Apply
}

// NewKeys returns an empty key set whose keys default to r requests per
// second with burst b.
func NewKeys(r float64, b int) *Keys {
	k := &Keys{rate: rate.Limit(r), burst: b}
	empty := map[string]*Key{}
	k.set.Store(&empty)
	return k
}

// Lookup finds the key presented by a client.
func (ks *Keys) Lookup(presented string) (*Key, bool) {
	k, ok := (*ks.set.Load())[HashKey(presented)]
	return k, ok
}

// Len is the number of keys loaded.
func (ks *Keys) Len() int { return len(*ks.set.Load()) }

// Apply replaces the key set with f's. A key whose hash, rate and burst are
// unchanged keeps its rate limiter (a reload never refills a bucket).
func (ks *Keys) Apply(f *KeysFile) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	old := *ks.set.Load()
	next := make(map[string]*Key, len(f.Keys))
	for _, e := range f.Keys {
		r, b := ks.rate, ks.burst
		if e.Rate > 0 {
			r = rate.Limit(e.Rate)
		}
		if e.Burst > 0 {
			b = e.Burst
		}
		apps := slices.Clone(e.Apps)
		slices.Sort(apps)
		h := strings.ToLower(e.SHA256)
		k := &Key{Name: e.Name, Apps: apps, rate: r, burst: b}
		if o := old[h]; o != nil && o.rate == r && o.burst == b {
			k.limiter = o.limiter
		} else {
			k.limiter = rate.NewLimiter(r, b)
		}
		next[h] = k
	}
	ks.set.Store(&next)
}

// Load reads the keys file at path into ks.
func (ks *Keys) Load(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("keys file: %w", err)
	}
	f, err := ParseKeys(b)
	if err != nil {
		return err
	}
	ks.Apply(f)
	return nil
}

// Watch re-reads the keys file every interval and applies it whenever its
// content changed, so keys are added, rotated and revoked without a
// restart. A file that is unreadable, empty or invalid is logged and
// ignored: the running keys stay. Replace the file atomically (as
// Kubernetes does for a mounted Secret). onReload, if set, is called with
// the outcome of every attempt.
func (ks *Keys) Watch(ctx context.Context, path string, every time.Duration, log *slog.Logger, onReload func(error)) {
	last, _ := os.ReadFile(path)
	t := time.NewTicker(every)
	defer t.Stop()
	report := func(err error) {
		if onReload != nil {
			onReload(err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b, err := os.ReadFile(path)
		if err != nil {
			log.Warn("keys file unreadable; keeping the running keys", "path", path, "err", err)
			report(err)
			continue
		}
		if bytes.Equal(b, last) {
			continue
		}
		if len(bytes.TrimSpace(b)) == 0 {
			log.Warn("keys file is empty; keeping the running keys", "path", path)
			report(fmt.Errorf("keys file is empty"))
			continue
		}
		last = b
		f, err := ParseKeys(b)
		if err != nil {
			log.Error("keys file rejected; keeping the running keys", "path", path, "err", err)
			report(err)
			continue
		}
		ks.Apply(f)
		log.Info("keys reloaded", "path", path, "keys", len(f.Keys))
		report(nil)
	}
}
