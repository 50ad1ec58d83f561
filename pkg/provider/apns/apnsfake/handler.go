package apnsfake

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
)

const devicePath = "/3/device/"

// apiError is an APNs error answer.
type apiError struct {
	status     int
	reason     string
	retryAfter time.Duration
	timestamp  time.Time // 410 only
}

func errorOf(status int, reason string) *apiError {
	return &apiError{status: status, reason: reason}
}

// serve answers one request: latency and injected faults first, then Apple's
// checks in order (route, auth, headers, topic, payload, token state).
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.noteArrival(time.Now())
	s.notePeak(s.inFlight.Add(1))
	defer s.inFlight.Add(-1)
	if !s.wait(r.Context()) || !s.hold(r.Context()) {
		return // the client gave up; nobody reads an answer
	}
	if f, ok := s.nextFault(); ok {
		s.inject(w, r, f)
		return
	}
	id := r.Header.Get("apns-id")
	if !isUUID(id) {
		id = newUUID()
	}
	w.Header().Set("apns-id", id)
	if e := s.handle(r); e != nil {
		writeError(w, e)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// handle validates and delivers the notification; nil means delivered.
func (s *Server) handle(r *http.Request) *apiError {
	now := time.Now()
	if r.ProtoMajor != 2 {
		return errorOf(http.StatusHTTPVersionNotSupported, "HTTPVersionNotSupported")
	}
	if r.Method != http.MethodPost {
		return errorOf(http.StatusMethodNotAllowed, "MethodNotAllowed")
	}
	token, ok := strings.CutPrefix(r.URL.Path, devicePath)
	switch {
	case !ok || strings.Contains(token, "/"):
		return errorOf(http.StatusNotFound, "BadPath")
	case token == "":
		return errorOf(http.StatusBadRequest, "MissingDeviceToken")
	case !isHexString(token):
		return errorOf(http.StatusBadRequest, "BadDeviceToken")
	}
	p, e := s.authenticate(r, now)
	if e != nil {
		return e
	}
	rh, e := checkHeaders(r.Header)
	if e != nil {
		return e
	}
	if e := checkTopic(&rh, p); e != nil {
		return e
	}
	limit := payloadLimit(rh.pushType)
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	switch {
	case err != nil:
		return errorOf(http.StatusBadRequest, "IdleTimeout")
	case len(body) == 0:
		return errorOf(http.StatusBadRequest, "PayloadEmpty")
	case len(body) > limit:
		return errorOf(http.StatusRequestEntityTooLarge, "PayloadTooLarge")
	}
	return s.deliver(token, rh.topic, r.Header, body)
}

// wait applies SetLatency; false means the request ended first.
func (s *Server) wait(ctx context.Context) bool {
	return fakeserver.Delay(ctx, time.Duration(s.latency.Load()), nil)
}

func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"reason": e.reason}
	if !e.timestamp.IsZero() {
		body["timestamp"] = e.timestamp.UnixMilli() // a JSON number, in ms
	}
	if e.retryAfter > 0 {
		secs := int64((e.retryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(body)
}

func isHexString(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// newUUID is a random (version 4) UUID, APNs' apns-id when none was sent.
func newUUID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
