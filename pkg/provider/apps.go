package provider

import "log/slog"

// LogAppsUpdated logs, at info, what an UpdateApps of platform's sender
// changed, if anything: the apps added and rotated (new credentials), and
// those of old that next no longer holds.
func LogAppsUpdated[A any](log *slog.Logger, platform string, added, rotated []string, old, next map[string]*A) {
	var removed []string
	for name := range old {
		if next[name] == nil {
			removed = append(removed, name)
		}
	}
	if len(added)+len(rotated)+len(removed) > 0 {
		log.Info(platform+" apps updated", "added", added, "rotated", rotated, "removed", removed, "apps", len(next))
	}
}
