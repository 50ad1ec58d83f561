package registryapi

import (
	"errors"
	"fmt"
)

// Error codes of the registry service, carried in the
// Nats-Service-Error-Code header.
const (
	CodeBadRequest = "400"
	CodeForbidden  = "403"
	CodeNotFound   = "404"
	CodeConflict   = "409"
	CodeInternal   = "500"
	CodeTimeout    = "504"
)

// Headers of an error answer (those of nats.go's micro package).
const (
	ErrorHeader     = "Nats-Service-Error"
	ErrorCodeHeader = "Nats-Service-Error-Code"
)

// Sentinels that an *Error from the Client matches with errors.Is.
var (
	// ErrBadRequest: the request was malformed or broke a rule; the
	// description names the field.
	ErrBadRequest = errors.New("bad request")
	// ErrForbidden: the request's body names another app than its subject
	// (push.registry.<verb>.<app>), which is the authority.
	ErrForbidden = errors.New("app not allowed on this subject")
	// ErrNotFound: the token has no record. Only registered tokens and
	// tokens a provider reported invalid or replaced have one.
	ErrNotFound = errors.New("device not found")
	// ErrConflict: too many concurrent writers on the device; retry.
	ErrConflict = errors.New("conflicting writers")
	// ErrServer: the service failed or timed out; retry later.
	ErrServer = errors.New("registry service error")
)

// StatusText names a code: "not found" for 404.
func StatusText(code string) string {
	switch code {
	case CodeBadRequest:
		return "bad request"
	case CodeForbidden:
		return "forbidden"
	case CodeNotFound:
		return "not found"
	case CodeConflict:
		return "conflict"
	case CodeInternal:
		return "internal error"
	case CodeTimeout:
		return "timeout"
	}
	return "error"
}

// ErrorBody is the body of an error answer: one readable line, such as
// "404 not found: no record for this token (...)", so that a plain
// `nats req` shows what went wrong. The headers carry the same.
func ErrorBody(code, description string) []byte {
	return []byte(code + " " + StatusText(code) + ": " + description)
}

// Error is an error answer of the registry service.
type Error struct {
	Code        string
	Description string
}

func (e *Error) Error() string {
	return fmt.Sprintf("registry: %s %s: %s", e.Code, StatusText(e.Code), e.Description)
}

// Is matches the sentinel of e's code.
func (e *Error) Is(target error) bool {
	switch e.Code {
	case CodeBadRequest:
		return target == ErrBadRequest
	case CodeForbidden:
		return target == ErrForbidden
	case CodeNotFound:
		return target == ErrNotFound
	case CodeConflict:
		return target == ErrConflict
	}
	return target == ErrServer
}
