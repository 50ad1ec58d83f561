package mifake

import (
	"net/http"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
)

// Answer is an injected answer. With Drop the connection is closed without
// an answer; otherwise Body is sent as is when set, else a MiPush error
// body with Code, Reason and Description. Status defaults to 200.
type Answer struct {
	Status      int
	Code        int
	Reason      string
	Description string
	Body        string
	Drop        bool
}

type fault struct {
	n int
	a Answer
}

// FailNext makes the next n message requests fail with f (see the package
// doc for the mapping). MiPush has no Retry-After, so retryAfter is ignored.
func (s *Server) FailNext(n int, f fakeserver.Failure, retryAfter time.Duration) {
	s.FailNextAnswer(n, failureAnswer(f))
}

// FailNextAnswer makes the next n message requests answer a, after the
// faults queued before it.
func (s *Server) FailNextAnswer(n int, a Answer) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{n: n, a: a})
}

// nextFault pops one injected answer, if any.
func (s *Server) nextFault() (Answer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return Answer{}, false
	}
	a := s.faults[0].a
	if s.faults[0].n--; s.faults[0].n == 0 {
		s.faults = s.faults[1:]
	}
	return a, true
}

func failureAnswer(f fakeserver.Failure) Answer {
	switch f {
	case fakeserver.RateLimited:
		return Answer{Code: 10023, Reason: "user request frequency exceeded", Description: "用户请求频率超限"}
	case fakeserver.Unavailable:
		return Answer{Code: 10009, Reason: "system busy", Description: "系统繁忙"}
	case fakeserver.Internal:
		return Answer{Status: http.StatusInternalServerError, Body: "Internal Server Error"}
	case fakeserver.AuthFailure:
		return errBadSecret
	case fakeserver.BadRequest:
		return Answer{Code: 10017, Reason: "invalid parameter value", Description: "非法参数值"}
	case fakeserver.DropConnection:
		return Answer{Drop: true}
	}
	return Answer{Status: http.StatusInternalServerError, Body: "unknown injected failure"}
}
