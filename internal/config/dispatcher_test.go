package config

import (
	"flag"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/internal/dispatch"
	"github.com/pushfleet/pushfleet/pkg/events"
)

func TestDispatcherFlagsAndEnvironment(t *testing.T) {
	env := map[string]string{"PUSHFLEET_SCHEDULE_HORIZON": "48h", "PUSHFLEET_APPS": "ignored"}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var d Dispatcher
	d.Register(fs)
	if err := Parse(fs, []string{"--apps", "shop, demo,", "--apps-file", "apps.yaml"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Dispatch.Apps, []string{"shop", "demo"}) || d.Dispatch.ScheduleHorizon != 48*time.Hour || d.AppsFile != "apps.yaml" {
		t.Fatalf("apps %q horizon %v apps file %q", d.Dispatch.Apps, d.Dispatch.ScheduleHorizon, d.AppsFile)
	}
	if d.Dispatch.Limits.MaxIntentBytes != events.DefaultLimits.MaxIntentBytes || d.Dispatch.Limits.MaxIntentBytes >= 1<<20 {
		t.Fatalf("--max-intent-bytes default %d, want %d (below max_payload)", d.Dispatch.Limits.MaxIntentBytes, events.DefaultLimits.MaxIntentBytes)
	}

	d = Dispatcher{}
	d.Register(flag.NewFlagSet("t", flag.ContinueOnError))
	if d.Dispatch.ScheduleHorizon != dispatch.DefaultScheduleHorizon {
		t.Fatalf("horizon default %v", d.Dispatch.ScheduleHorizon)
	}
}

// The all-in-one registers its own --apps-file before the dispatcher's
// flags: the dispatcher must not define it again (flag would panic).
func TestDispatcherKeepsAnExistingAppsFileFlag(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("apps-file", "", "the all-in-one's")
	var d Dispatcher
	d.Register(fs)
}

// --coalesce-linger: the default is dispatch.DefaultLinger, 0 turns
// coalescing off (a negative Config.Linger), a negative value is refused,
// and the environment twin works.
func TestCoalesceLingerFlag(t *testing.T) {
	tests := []struct {
		args    []string
		env     string
		want    time.Duration
		wantErr bool
	}{
		{want: dispatch.DefaultLinger},
		{args: []string{"--coalesce-linger", "5ms"}, want: 5 * time.Millisecond},
		{args: []string{"--coalesce-linger", "0"}, want: -1},
		{env: "0s", want: -1},
		{args: []string{"--coalesce-linger", "-1ms"}, wantErr: true},
		{args: []string{"--coalesce-linger", "soon"}, wantErr: true},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var d Dispatcher
		d.Register(fs)
		err := Parse(fs, tt.args, func(k string) string {
			if k == "PUSHFLEET_COALESCE_LINGER" {
				return tt.env
			}
			return ""
		})
		if tt.wantErr {
			if err == nil {
				t.Errorf("%v: accepted", tt.args)
			}
			continue
		}
		if err != nil || d.Dispatch.Linger != tt.want {
			t.Errorf("%v env %q: linger %v (%v), want %v", tt.args, tt.env, d.Dispatch.Linger, err, tt.want)
		}
		if err := d.Validate(); err != nil {
			t.Errorf("%v: %v", tt.args, err)
		}
	}
}
