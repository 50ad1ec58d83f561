package events

import (
	"errors"
	"fmt"
)

// Sentinel errors for intents that cannot be processed.
var (
	// ErrMalformed: the bytes are not a JSON intent, job or feedback event
	// (syntax or type errors). Errors read "malformed intent: …", "malformed
	// job: …" or "malformed feedback: …".
	ErrMalformed = errors.New("malformed")
	// ErrInvalid: the intent decodes but breaks a rule of the contract.
	ErrInvalid = errors.New("invalid intent")
)

// ValidationError names the offending field and why it was rejected.
// It matches ErrInvalid with errors.Is.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid intent: %s: %s", e.Field, e.Reason)
}

// Is makes every ValidationError match ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func asErr[T any](err error, target *T) bool { return errors.As(err, target) }
