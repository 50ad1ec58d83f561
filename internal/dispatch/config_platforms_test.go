package dispatch_test

import (
	"errors"
	"flag"
	"testing"

	"github.com/pushfleet/pushfleet/internal/config/invalid"
	"github.com/pushfleet/pushfleet/internal/dispatch"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// --platforms declares custom platforms as it is parsed; a Config built in
// code declares them with Declare; Validate refuses undeclared or bad names;
// custom platforms batch by BatchCustom.
func TestConfigDeclaresCustomPlatforms(t *testing.T) {
	var c dispatch.Config
	fs := flag.NewFlagSet("dispatcher", flag.ContinueOnError)
	fs.Var(&c.Platforms, "platforms", dispatch.PlatformsUsage)
	if err := fs.Parse([]string{"--platforms", "hook_d"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil || !events.Platform("hook_d").Valid() {
		t.Fatalf("validate %v, valid %v", err, events.Platform("hook_d").Valid())
	}
	if c.WithDefaults().BatchCustom != dispatch.DefaultBatchCustom {
		t.Fatalf("BatchCustom default %d", c.WithDefaults().BatchCustom)
	}
	if err := fs.Parse([]string{"--platforms", "apns"}); err == nil {
		t.Fatal("--platforms apns accepted")
	}
	code := dispatch.Config{Platforms: events.PlatformList{"sms_d"}}
	if err := code.Validate(); !errors.Is(err, invalid.Err) {
		t.Fatalf("undeclared sms_d: %v", err)
	}
	if err := code.Declare(); err != nil {
		t.Fatal(err)
	}
	if err := code.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (dispatch.Config{BatchCustom: -1}).Validate(); !errors.Is(err, invalid.Err) {
		t.Fatalf("BatchCustom -1: %v", err)
	}
}
