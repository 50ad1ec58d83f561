// Package invalid holds the one sentinel every pushfleet configuration
// error wraps. It sits below every package that validates settings
// (consumer, dispatch, send, sink, streams, the providers' flags) so that
// each can wrap it without importing internal/config, which sits above
// them; internal/config names the same value config.ErrInvalid.
package invalid

import (
	"errors"
	"fmt"
)

// Err is wrapped by every configuration error: errors.Is(err, Err) tells
// a setting that cannot work from a failure at run time.
var Err = errors.New("invalid configuration")

// Errorf returns a configuration error of component (the package or flag
// group that refused it), "component: message", wrapping Err and any error
// the format wraps with %w.
func Errorf(component, format string, args ...any) error {
	return &configError{component: component, err: fmt.Errorf(format, args...)}
}

// Wrap marks err, a configuration error of component from a package that
// does not wrap Err itself, as one; nil stays nil.
func Wrap(component string, err error) error {
	if err == nil || errors.Is(err, Err) {
		return err
	}
	return &configError{component: component, err: err}
}

type configError struct {
	component string
	err       error
}

func (e *configError) Error() string {
	if e.component == "" {
		return e.err.Error()
	}
	return e.component + ": " + e.err.Error()
}

func (e *configError) Unwrap() []error { return []error{Err, e.err} }
