package registryapi

import (
	"strings"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Service identity.
const (
	ServiceName    = "pushfleet-registry"
	ServiceVersion = "2.0.0"
	// SubjectPrefix is the group of every endpoint: push.registry.<verb>.<app>.
	SubjectPrefix = "push.registry"
)

// Endpoint names. Each listens on push.registry.<verb>.<app> (Subject):
// the app token of the subject is the authority, and a request whose body
// names another app is refused (ErrForbidden). NATS permissions can so
// confine a registry client to its own apps: publish push.registry.*.<app>.
const (
	VerbRegister    = "register"
	VerbUnregister  = "unregister"
	VerbGet         = "get"
	VerbUpdateTags  = "update-tags"
	VerbListByAlias = "list-by-alias"
	VerbListByTag   = "list-by-tag"
	VerbStats       = "stats"
	// VerbStatsAll counts the devices of every app, on push.registry.stats-all
	// (no app token, so no per-app client can reach it: operators only).
	VerbStatsAll = "stats-all"
)

// Verbs lists the per-app endpoints in the order the service adds them.
var Verbs = []string{VerbRegister, VerbUnregister, VerbGet, VerbUpdateTags, VerbListByAlias, VerbListByTag, VerbStats}

// Subject returns the subject of an endpoint for app:
// push.registry.<verb>.<app>. For VerbStatsAll app is ignored.
func Subject(verb, app string) string {
	if verb == VerbStatsAll {
		return SubjectPrefix + "." + VerbStatsAll
	}
	return SubjectPrefix + "." + verb + "." + app
}

// SubjectApp returns the verb and app of a per-app endpoint subject; ok is
// false for any other shape or an app that is not a valid app name.
func SubjectApp(subject string) (verb, app string, ok bool) {
	rest, ok := strings.CutPrefix(subject, SubjectPrefix+".")
	if !ok {
		return "", "", false
	}
	verb, app, ok = strings.Cut(rest, ".")
	if !ok || verb == "" || !events.ValidApp(app) {
		return "", "", false
	}
	return verb, app, true
}

// ClientName is the NATS user (and connection name) of the registry client
// of app, e.g. registry-demo: one identity per app, none shared.
func ClientName(app string) string { return "registry-" + app }

// InboxPrefix is the inbox prefix a registry client of app must set
// (nats.CustomInboxPrefix): its user may subscribe only to
// _INBOX_registry-<app>.>, so it never sees another client's answers.
func InboxPrefix(app string) string { return "_INBOX_" + ClientName(app) }

// Device states.
const (
	// StateActive: registered, or delivered to since.
	StateActive = "active"
	// StateInvalid: a provider reported the token invalid; sends to it are
	// suppressed until it is registered again.
	StateInvalid = "invalid"
	// StateRetired: a provider named a replacement (ReplacedBy).
	StateRetired = "retired"
)

// DeviceRef names one device: a token on a platform of an app.
type DeviceRef struct {
	App      string          `json:"app"`
	Platform events.Platform `json:"platform"`
	Token    string          `json:"token"`
}

// RegisterRequest registers a device, replacing any earlier registration of
// the same token (alias, tags, locale and attributes). It revives a token
// marked invalid. Answer: DeviceResponse.
type RegisterRequest struct {
	DeviceRef
	Alias      string            `json:"alias,omitempty"`
	Tags       []string          `json:"tags,omitempty"`
	Locale     string            `json:"locale,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// UnregisterRequest removes a device. Answer: UnregisterResponse, or 404.
type UnregisterRequest struct {
	DeviceRef
}

// UnregisterResponse confirms an unregistration.
type UnregisterResponse struct {
	Removed bool `json:"removed"`
}

// GetRequest asks for a device. Answer: DeviceResponse, or 404 when the
// token has no record: only registered tokens and tokens a provider
// reported invalid or replaced have one (a token that was only delivered
// to has none).
type GetRequest struct {
	DeviceRef
}

// UpdateTagsRequest adds and removes tags of a registered device, keeping
// the rest of its registration; concurrent updates never lose each other's
// tags. Answer: DeviceResponse, or 404.
type UpdateTagsRequest struct {
	DeviceRef
	Add    []string `json:"add,omitempty"`
	Remove []string `json:"remove,omitempty"`
}

// DeviceResponse carries a device's registration and delivery state.
type DeviceResponse struct {
	Device Device `json:"device"`
}

// Device is a device's registration and delivery state.
type Device struct {
	DeviceRef
	// State is StateActive, StateInvalid or StateRetired.
	State      string            `json:"state"`
	Alias      string            `json:"alias,omitempty"`
	Tags       []string          `json:"tags,omitempty"`
	Locale     string            `json:"locale,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	// Reason is the provider's reason for the last invalidation.
	Reason       string     `json:"reason,omitempty"`
	InvalidAt    *time.Time `json:"invalid_at,omitempty"`
	ReplacedBy   string     `json:"replaced_by,omitempty"`
	RegisteredAt *time.Time `json:"registered_at,omitempty"`
	LastSuccess  *time.Time `json:"last_success,omitempty"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

// ListByAliasRequest asks for one page of an alias's devices. Answer:
// ListResponse.
type ListByAliasRequest struct {
	App   string `json:"app"`
	Alias string `json:"alias"`
	Paging
}

// ListByTagRequest asks for one page of a tag's devices. Answer:
// ListResponse.
type ListByTagRequest struct {
	App string `json:"app"`
	Tag string `json:"tag"`
	Paging
}

// Page limits.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

// Paging selects a page: start without a cursor, then pass the previous
// answer's Next until it is empty.
type Paging struct {
	Cursor string `json:"cursor,omitempty"`
	// Limit is the most devices per page: default DefaultPageLimit, at most
	// MaxPageLimit.
	Limit int `json:"limit,omitempty"`
}

// ListResponse is one page of devices. Invalid devices are listed too:
// check a device's state with get. A device re-registered while a listing
// is under way may appear on two pages.
type ListResponse struct {
	Devices []events.Target `json:"devices"`
	// Next continues the listing; empty on the last page.
	Next string `json:"next,omitempty"`
}

// StatsRequest asks for device counts of one app (on push.registry.stats.<app>;
// an empty App means the subject's), or of every app when App is empty and
// the request goes to push.registry.stats-all. Answer: StatsResponse.
type StatsRequest struct {
	App string `json:"app,omitempty"`
}

// DeviceCount is the number of devices of one app and platform in one state.
type DeviceCount struct {
	App      string          `json:"app"`
	Platform events.Platform `json:"platform"`
	State    string          `json:"state"`
	Devices  int             `json:"devices"`
}

// StatsResponse counts devices by app, platform and state.
type StatsResponse struct {
	Counts []DeviceCount `json:"counts"`
	Total  int           `json:"total"`
	// Source is "cache" (current, from the service's watch of the bucket)
	// or "scan" (read from the bucket at AsOf, reused for a while).
	Source string    `json:"source"`
	AsOf   time.Time `json:"as_of"`
}
