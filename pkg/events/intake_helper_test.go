package events_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// checkIntake decodes intent body and checks that intake accepts it (field
// "") or refuses it on field with a reason containing reason.
func checkIntake(t *testing.T, body, field, reason string) {
	t.Helper()
	_, err := events.DecodeIntent([]byte(body), events.Limits{})
	if field == "" {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	var ve *events.ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, events.ErrInvalid) {
		t.Fatalf("err = %v, want a ValidationError", err)
	}
	if ve.Field != field || !strings.Contains(ve.Reason, reason) {
		t.Fatalf("refused on %s: %q; want %s: ...%s...", ve.Field, ve.Reason, field, reason)
	}
}
