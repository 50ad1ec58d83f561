package apns

import (
	"errors"
	"fmt"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Payload limits of APNs; over them APNs answers 413 PayloadTooLarge.
const (
	MaxPayload     = events.APNsMaxPayload
	MaxVoIPPayload = events.APNsMaxVoIPPayload
)

// buildPayload encodes the APNs body of n for pushType with
// events.APNsPayload, the builder intake checks sizes with (see there for
// the keys, merges and null deletions), and checks its size.
//
// Errors wrap provider.ErrBadMessage or provider.ErrPayloadTooLarge.
func buildPayload(n *events.Notification, pushType string, o *events.APNsOverrides) ([]byte, error) {
	b, err := events.APNsPayload(n, pushType, o)
	if err != nil {
		var ve *events.ValidationError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("%w: %s: %s", provider.ErrBadMessage, ve.Field, ve.Reason)
		}
		return nil, fmt.Errorf("%w: %v", provider.ErrBadMessage, err)
	}
	if limit := events.APNsPayloadLimit(pushType); len(b) > limit {
		return nil, fmt.Errorf("%w: APNs payload of %d bytes exceeds %d for push type %s",
			provider.ErrPayloadTooLarge, len(b), limit, pushType)
	}
	return b, nil
}
