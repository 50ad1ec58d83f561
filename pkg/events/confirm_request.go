package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// ConfirmRequestSubject is the confirmation service's request/reply
// endpoint for app: push.registry.confirm.<app>, beside the registry's
// verbs, so that a backend's registry user (registry-<app>) may call it
// for its own app and no other. It answers at once with what became of
// the confirmation; publishing on ConfirmSubject is the fire-and-forget
// way.
func ConfirmRequestSubject(app string) string { return "push.registry.confirm." + app }

// ConfirmServiceName is the micro service name of the endpoint.
const ConfirmServiceName = "pushfleet-confirm"

// ConfirmAnswer is the endpoint's answer to a confirmation it took.
type ConfirmAnswer struct {
	IntentID string  `json:"intent_id"`
	Outcome  Outcome `json:"outcome"`
	// Duplicate is true when the token had been confirmed already.
	Duplicate bool `json:"duplicate,omitempty"`
}

// Error codes of the endpoint (header Nats-Service-Error-Code), as the
// registry's.
const (
	ConfirmCodeInvalid  = "400" // the confirmation breaks a rule (ErrInvalidConfirmation)
	ConfirmCodeUnknown  = "404" // no intent awaits confirmation with this id (ErrConfirmationRefused)
	ConfirmCodeRefused  = "409" // too late, not delivered, or not delivered yet (ErrConfirmationRefused)
	ConfirmCodeInternal = "500" // the service failed: retry (ErrConfirmService)
)

// Sentinels of a *ConfirmError.
var (
	// ErrConfirmationRefused: the service does not take this confirmation
	// now (the description says why; "not delivered yet" may succeed later).
	ErrConfirmationRefused = errors.New("confirmation refused")
	// ErrConfirmService: the confirmation service failed; retry.
	ErrConfirmService = errors.New("confirmation service error")
)

// ConfirmError is an error answer of the endpoint.
type ConfirmError struct {
	Code        string
	Description string
}

func (e *ConfirmError) Error() string {
	return "confirm: " + e.Code + ": " + e.Description
}

// Is matches the sentinel of e's code.
func (e *ConfirmError) Is(target error) bool {
	switch e.Code {
	case ConfirmCodeInvalid:
		return target == ErrInvalidConfirmation
	case ConfirmCodeUnknown, ConfirmCodeRefused:
		return target == ErrConfirmationRefused
	}
	return target == ErrConfirmService
}

// RequestConfirm confirms through the endpoint and waits for its answer
// (until ctx ends). nc should be the connection of the app's backend user;
// no instance running is nats.ErrNoResponders, wrapped.
func RequestConfirm(ctx context.Context, nc *nats.Conn, app string, c Confirmation) (*ConfirmAnswer, error) {
	if !ValidApp(app) {
		return nil, fmt.Errorf("%w: app %q: must be 1-64 characters of A-Z a-z 0-9 _ -", ErrInvalidConfirmation, clip(app))
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	body, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("encode confirmation: %w", err)
	}
	resp, err := nc.RequestWithContext(ctx, ConfirmRequestSubject(app), body)
	if err != nil {
		return nil, fmt.Errorf("confirm %s: %w", c.IntentID, err)
	}
	if code := resp.Header.Get("Nats-Service-Error-Code"); code != "" {
		return nil, &ConfirmError{Code: code, Description: resp.Header.Get("Nats-Service-Error")}
	}
	var a ConfirmAnswer
	if err := json.Unmarshal(resp.Data, &a); err != nil {
		return nil, fmt.Errorf("%w: answer: %v", ErrConfirmService, err)
	}
	return &a, nil
}
