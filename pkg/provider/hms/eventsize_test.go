package hms

import (
	"strings"
	"testing"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// TestEventsSizeMatches: intake's size check (events.HMSMessageSize) stays
// in step with the message this package builds.
func TestEventsSizeMatches(t *testing.T) {
	for _, n := range []events.Notification{
		{Title: "t", Body: "b"},
		{Title: "t", Body: strings.Repeat("é", 500), Sound: "ping", Priority: events.PriorityHigh, CollapseKey: "7"},
		{Body: "b", CollapseKey: "news", Priority: events.PriorityNormal},
		{Data: map[string]any{"k": "v", "n": 1}, CollapseKey: "-1"},
		{Data: map[string]any{"k": "<&>"}, CollapseKey: "tag"},
	} {
		tm, err := buildTemplate(&n)
		if err != nil {
			t.Fatal(err)
		}
		if want, got := tm.size(DefaultMaxTTL), events.HMSMessageSize(&n); got != want {
			t.Errorf("%+v: events.HMSMessageSize = %d, hms builds %d", n, got, want)
		}
	}
}
