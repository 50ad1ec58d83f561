package apps

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Watch re-reads the file at path every interval and calls apply with its
// platform section whenever the content changed, so adding an app or
// rotating its credentials needs no restart. A file that fails to parse or
// validate, or is empty, is logged and ignored: the running configuration
// stays. Replace the file atomically (write a new one, rename it over the
// old, as Kubernetes does for mounted Secrets) so it is never read half
// written.
func Watch[T Validator](ctx context.Context, path string, every time.Duration, p events.Platform, log *slog.Logger,
	apply func(map[string]T) error) {
	last, _ := os.ReadFile(path)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b, err := os.ReadFile(path)
		if err != nil {
			log.Warn("apps file unreadable; keeping the running configuration", "path", path, "err", err)
			continue
		}
		if bytes.Equal(b, last) {
			continue
		}
		if len(bytes.TrimSpace(b)) == 0 {
			// Most likely caught mid-write: never take it for "no apps".
			log.Warn("apps file is empty; keeping the running configuration", "path", path)
			continue
		}
		last = b
		f, err := Parse(b)
		var sec map[string]T
		if err == nil {
			sec, err = Section[T](f, p)
		}
		if err == nil {
			err = apply(sec)
		}
		if err != nil {
			log.Error("apps file rejected; keeping the running configuration", "path", path, "err", err)
			continue
		}
		log.Info("apps configuration reloaded", "path", path, "apps", len(sec))
	}
}
