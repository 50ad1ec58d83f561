package registry

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

// Sentinels that an *Error from the Client matches with errors.Is.
var (
	// ErrBadRequest: the request was malformed or broke a rule; the
	// description names the field.
	ErrBadRequest = errors.New("bad request")
	// ErrForbidden: the request's body names another app than its subject
	// (push.registry.<verb>.<app>), which is the authority.
	ErrForbidden = errors.New("app not allowed on this subject")
	// ErrNotFound: no such device.
	ErrNotFound = errors.New("device not found")
	// ErrConflict: too many concurrent writers on the device; retry.
	ErrConflict = errors.New("conflicting writers")
	// ErrServer: the service failed or timed out; retry later.
	ErrServer = errors.New("registry service error")
)

// Error is an error answer of the registry service.
type Error struct {
	Code        string
	Description string
}

func (e *Error) Error() string {
	return fmt.Sprintf("registry: %s (%s)", e.Description, e.Code)
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
