package fcmfake

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
)

// maxBodyBytes bounds what the fake reads of a request body.
const maxBodyBytes = 64 << 10

// UnavailableRetryAfter is the Retry-After an injected 503 carries when
// FailNext was given none. The Admin SDK retries a 503 itself, up to ~7 s,
// unless Retry-After exceeds two minutes; this value makes it give up at once
// so tests stay fast.
const UnavailableRetryAfter = 121 * time.Second

// handleSend is POST /v1/projects/{project}/messages:send. The checks run in
// FCM's order: authentication, project, injected faults, body, quota, token.
func (s *Server) handleSend(w http.ResponseWriter, r *http.Request) {
	s.sendRequests.Add(1)
	s.noteArrival(time.Now())
	project := r.PathValue("project")
	if e, ok := s.authorize(r, project); !ok {
		writeError(w, e)
		return
	}
	f, faulty := s.takeFailure()
	if !s.wait(r) {
		return
	}
	if faulty {
		s.inject(w, f)
		return
	}
	body, err := readBody(r, maxBodyBytes)
	if err != nil {
		writeError(w, badArgument("", "Request payload size exceeds the limit.", false))
		return
	}
	req, t, e := decodeRequest(body)
	if e != nil {
		writeError(w, *e)
		return
	}
	if wait, ok := s.takeQuota(project); !ok {
		writeError(w, errQuota(wait))
		return
	}
	if t.token != "" {
		if e, ok := s.checkToken(t.token); !ok {
			writeError(w, e)
			return
		}
	}
	id := s.messageSeq.Add(1)
	if !req.ValidateOnly {
		s.recordDelivery(t.key(), req.Message)
	}
	writeJSON(w, http.StatusOK, map[string]string{"name": fmt.Sprintf("projects/%s/messages/%d", project, id)})
}

// wait applies SetLatency; false when the client or the fake gave up first.
func (s *Server) wait(r *http.Request) bool {
	s.mu.Lock()
	d := s.latency
	s.mu.Unlock()
	return fakeserver.Delay(r.Context(), d, s.Done())
}

// checkToken answers for dead, malformed and foreign tokens.
func (s *Server) checkToken(tok string) (apiError, bool) {
	if strings.HasPrefix(tok, MalformedPrefix) || !tokenLooksValid(tok) {
		return errInvalidToken, false
	}
	if strings.HasPrefix(tok, DeadPrefix) {
		return errUnregistered, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.malformed[tok]:
		return errInvalidToken, false
	case s.dead[tok]:
		return errUnregistered, false
	case s.foreign[tok]:
		return errSenderID, false
	}
	return apiError{}, true
}

// inject answers with an injected fakeserver failure.
func (s *Server) inject(w http.ResponseWriter, f injected) {
	switch f.failure {
	case fakeserver.RateLimited:
		writeError(w, errQuota(f.retryAfter))
	case fakeserver.Unavailable:
		ra := f.retryAfter
		if ra <= 0 {
			ra = UnavailableRetryAfter
		}
		writeError(w, apiError{code: http.StatusServiceUnavailable, status: "UNAVAILABLE", message: msgUnavailable, fcmCode: "UNAVAILABLE", retryAfter: ra})
	case fakeserver.Internal:
		writeError(w, apiError{code: http.StatusInternalServerError, status: "INTERNAL", message: msgInternal, fcmCode: "INTERNAL", retryAfter: f.retryAfter})
	case fakeserver.AuthFailure:
		writeError(w, apiError{code: http.StatusUnauthorized, status: "UNAUTHENTICATED", message: msgThirdPartyErr, fcmCode: "THIRD_PARTY_AUTH_ERROR"})
	case fakeserver.BadRequest:
		writeError(w, badArgument("message.android.ttl", "Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), \"forever\"", true))
	case fakeserver.DropConnection:
		// Over HTTP/2 this resets the stream without an answer; over
		// HTTP/1.1 it closes the connection.
		panic(http.ErrAbortHandler)
	default:
		writeError(w, apiError{code: http.StatusInternalServerError, status: "INTERNAL", message: fmt.Sprintf("unknown injected failure %v", f.failure)})
	}
}
