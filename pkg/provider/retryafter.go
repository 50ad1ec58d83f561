package provider

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxRetryAfter caps a provider's requested wait: a bogus or hostile
// Retry-After (years, or an overflowing number) must not park a message past
// its stream's retention, where it would vanish without a dead letter.
const MaxRetryAfter = time.Hour

// ParseRetryAfter reads an HTTP Retry-After value, delay-seconds or an HTTP
// date, into a wait between 0 (absent or unparsable) and MaxRetryAfter.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		switch {
		case secs <= 0:
			return 0
		case secs >= int64(MaxRetryAfter/time.Second):
			return MaxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return MaxRetryAfter // a number too large for int64
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), MaxRetryAfter)
	}
	return 0
}
