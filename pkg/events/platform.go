package events

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Platform names a push provider family. It is also a subject token.
type Platform string

// The platforms pushfleet delivers to. FCM is the HTTP v1 API that replaced GCM.
const (
	APNs Platform = "apns"
	FCM  Platform = "fcm"
	Mi   Platform = "mi"
	// HMS is Huawei Push Kit (pkg/provider/hms).
	HMS Platform = "hms"
	// WebPush is RFC 8030 Web Push to browsers (pkg/provider/webpush): a
	// token is a subscription's JSON.
	WebPush Platform = "webpush"
)

// Platforms lists every supported platform in a stable order: the five
// built-ins, then the custom platforms declared in this process
// (DeclarePlatform), in declaration order.
var Platforms = []Platform{APNs, FCM, Mi, HMS, WebPush}

// Valid reports whether p is a supported platform: built in, or declared
// in this process.
func (p Platform) Valid() bool {
	switch p {
	case APNs, FCM, Mi, HMS, WebPush:
		return true
	}
	return p.Custom()
}

// Custom reports whether p is a custom platform declared in this process.
func (p Platform) Custom() bool {
	m := declared.Load()
	return m != nil && (*m)[p]
}

// ParsePlatform returns the platform named s, or an error naming the choices.
func ParsePlatform(s string) (Platform, error) {
	p := Platform(s)
	if !p.Valid() {
		return "", fmt.Errorf("%w: unknown platform %q (want %s)", ErrInvalid, s, platformChoices())
	}
	return p, nil
}

// platformChoices names the valid platforms for messages: "apns, fcm, mi, hms or webpush".
func platformChoices() string {
	names := make([]string, 0, len(Platforms))
	for _, p := range Platforms {
		names = append(names, string(p))
	}
	last := len(names) - 1
	return strings.Join(names[:last], ", ") + " or " + names[last]
}

// Custom platforms (channels). A custom platform is a delivery channel
// pushfleet does not build in (a webhook, email, SMS…), served by a sender
// written with pkg/channel. Every process that handles its tokens declares
// it, the same way (--platforms on the services, DeclarePlatform in a
// producer written in Go), before it starts: the dispatcher (to accept and
// batch its targets), its sender, the feedback-sink (to accept its
// feedback), provisioning (its streams PUSH_SEND_<NAME> and
// PUSH_RETRY_<NAME>) and producers that validate intents.

// customName is a custom platform's name: a subject token, a stream name
// part (upper-cased) and a Deployment name part (<name>-sender).
var customName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,30}$`)

// reservedNames may not name a custom platform: the built-ins, FCM's former
// name (its sender is gcm-sender) and the stages and subject tokens of
// pushfleet's own subjects.
var reservedNames = map[string]bool{
	"apns": true, "fcm": true, "mi": true, "hms": true, "webpush": true, "gcm": true,
	"intents": true, "schedules": true, "due": true, "wait": true, "feedback": true,
	"dead": true, "dispatcher": true, "send": true, "retry": true, "all": true,
}

var (
	declareMu sync.Mutex
	// declared is copied on write: Valid reads it without a lock.
	declared atomic.Pointer[map[Platform]bool]
)

// DeclarePlatform declares the custom platform named name in this process:
// Valid accepts it, Platforms lists it, and its streams, subjects and
// durable names follow the built-ins' pattern (SendStream "PUSH_SEND_<NAME>",
// RetryStream "PUSH_RETRY_<NAME>", SenderDurable "<name>-sender"). Names are
// 1-31 characters of a-z 0-9 _, starting with a letter, and not a built-in
// or reserved word. Declaring a name twice is harmless.
//
// Declare at start, before any goroutine reads Platforms: declaring is not
// synchronised with ranging over Platforms.
func DeclarePlatform(name string) (Platform, error) {
	if err := CheckPlatformName(name); err != nil {
		return "", err
	}
	p := Platform(name)
	declareMu.Lock()
	defer declareMu.Unlock()
	old := declared.Load()
	if old != nil && (*old)[p] {
		return p, nil
	}
	m := map[Platform]bool{p: true}
	if old != nil {
		for q := range *old {
			m[q] = true
		}
	}
	declared.Store(&m)
	// A new slice: one handed out earlier is never written to.
	Platforms = append(slices.Clip(Platforms), p)
	return p, nil
}

// CheckPlatformName reports why name cannot name a custom platform, or nil.
func CheckPlatformName(name string) error {
	switch {
	case !customName.MatchString(name):
		return fmt.Errorf("%w: custom platform %q: names are 1-31 characters of a-z 0-9 _, starting with a letter", ErrInvalid, name)
	case reservedNames[name]:
		return fmt.Errorf("%w: custom platform %q: the name is built in or reserved", ErrInvalid, name)
	}
	return nil
}

// PlatformList is a list of custom platforms as a command-line flag
// (flag.Value): "--platforms webhook,sms" (or the flag repeated) declares
// each name as it is parsed, so that everything after flag parsing,
// provisioning included, knows them.
type PlatformList []Platform

// String lists the platforms, comma-separated.
func (l *PlatformList) String() string {
	if l == nil {
		return ""
	}
	names := make([]string, len(*l))
	for i, p := range *l {
		names[i] = string(p)
	}
	return strings.Join(names, ",")
}

// Set declares every comma-separated name and adds it to the list.
func (l *PlatformList) Set(s string) error {
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		p, err := DeclarePlatform(name)
		if err != nil {
			return err
		}
		if !slices.Contains(*l, p) {
			*l = append(*l, p)
		}
	}
	return nil
}

// DeclarePlatforms declares every name (DeclarePlatform), stopping at the
// first bad one.
func DeclarePlatforms[S ~string](names ...S) error {
	for _, n := range names {
		if _, err := DeclarePlatform(string(n)); err != nil {
			return err
		}
	}
	return nil
}

// CustomPlatforms lists the custom platforms declared in this process, in
// declaration order.
func CustomPlatforms() []Platform {
	var out []Platform
	for _, p := range Platforms {
		if p.Custom() {
			out = append(out, p)
		}
	}
	return out
}

// customStreamPart is p's part of its stream names: "WEBHOOK".
func customStreamPart(p Platform) string {
	if !p.Custom() {
		return ""
	}
	return strings.ToUpper(string(p))
}

// capability is what a platform's provider can report about a token.
type capability struct {
	// replacesTokens: the provider can answer a send with a new token for
	// the device (a token_replaced outcome with new_token).
	replacesTokens bool
}

// capabilities lists each platform's. None of pushfleet's providers names
// a replacement token today: APNs answers 410 Unregistered (invalid),
// FCM HTTP v1 answers UNREGISTERED (invalid; the v1 API has no
// canonical-id answer, that was legacy GCM), MiPush reports bad regids
// (invalid). A future platform that does sets replacesTokens.
// Custom platforms have none: a channel's sender never names a new token.
var capabilities = map[Platform]capability{
	APNs: {},
	FCM:  {},
	Mi:   {},
	// Push Kit reports illegal tokens (invalid) and never names a new one.
	HMS: {},
	// A push service answers 404/410 for a gone subscription (invalid).
	WebPush: {},
}

// ReplacesTokens reports whether p's provider can name a replacement token
// for a device. The feedback-sink refuses token_replaced from a platform
// that cannot: a forged one would redirect an alias's pushes to any token.
func (p Platform) ReplacesTokens() bool { return capabilities[p].replacesTokens }

// Reports reports whether feedback about p's tokens from its sender or the
// dispatcher may carry outcome o: every known outcome, except
// token_replaced where p's provider never replaces tokens, and confirmed
// and unconfirmed, which only the confirmation service reports.
func (p Platform) Reports(o Outcome) bool {
	if !p.Valid() || !o.known() || o.confirmOutcome() {
		return false
	}
	if o == TokenReplaced {
		return p.ReplacesTokens()
	}
	return true
}
