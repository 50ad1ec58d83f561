package apps_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/internal/apps"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// cfg stands in for a provider's AppConfig.
type cfg struct {
	Secret string `json:"secret"`
}

func (c cfg) Validate() error {
	if c.Secret == "" {
		return errors.New("secret is required")
	}
	return nil
}

func TestSectionErrorsNameAppAndField(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"ok", "apps:\n  shop:\n    mi: {secret: s}\n", ""},
		{"bad platform", "apps:\n  shop:\n    wns: {secret: s}\n", `unknown platform "wns"`},
		{"bad app name", "apps:\n  \"a.b\":\n    mi: {secret: s}\n", `app "a.b"`},
		{"unknown field", "apps:\n  shop:\n    mi: {secret: s, colour: red}\n", `app "shop", mi: json: unknown field "colour"`},
		{"invalid", "apps:\n  shop:\n    mi: {secret: \"\"}\n", `app "shop", mi: secret is required`},
		{"not yaml", "apps: [", "apps file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := apps.Parse([]byte(tc.file))
			if err == nil {
				_, err = apps.Section[cfg](f, events.Mi)
			}
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestWatchAppliesChangesAndKeepsConfigOnBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apps.yaml")
	write := func(s string) { // atomically, as the watcher expects
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write("apps:\n  shop:\n    mi: {secret: one}\n")
	got := make(chan map[string]cfg, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go apps.Watch[cfg](ctx, path, 10*time.Millisecond, events.Mi, slog.New(slog.DiscardHandler), func(m map[string]cfg) error {
		got <- m
		return nil
	})
	time.Sleep(30 * time.Millisecond)
	write("apps:\n  shop:\n    mi: {secret: \"\"}\n") // invalid: ignored
	time.Sleep(50 * time.Millisecond)
	write("") // empty: ignored
	time.Sleep(50 * time.Millisecond)
	write("apps:\n  shop:\n    mi: {secret: two}\n  blog:\n    mi: {secret: three}\n")
	select {
	case m := <-got:
		if m["shop"].Secret != "two" || m["blog"].Secret != "three" {
			t.Fatalf("applied %v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("change not applied")
	}
	if len(got) != 0 {
		t.Fatal("an invalid file was applied")
	}
}
