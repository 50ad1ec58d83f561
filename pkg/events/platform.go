package events

import "fmt"

// Platform names a push provider family. It is also a subject token.
type Platform string

// The platforms pushfleet delivers to. FCM is the HTTP v1 API that replaced GCM.
const (
	APNs Platform = "apns"
	FCM  Platform = "fcm"
	Mi   Platform = "mi"
)

// Platforms lists every supported platform in a stable order.
var Platforms = []Platform{APNs, FCM, Mi}

// Valid reports whether p is a supported platform.
func (p Platform) Valid() bool {
	switch p {
	case APNs, FCM, Mi:
		return true
	}
	return false
}

// ParsePlatform returns the platform named s, or an error naming the choices.
func ParsePlatform(s string) (Platform, error) {
	p := Platform(s)
	if !p.Valid() {
		return "", fmt.Errorf("%w: unknown platform %q (want apns, fcm or mi)", ErrInvalid, s)
	}
	return p, nil
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
var capabilities = map[Platform]capability{
	APNs: {},
	FCM:  {},
	Mi:   {},
}

// ReplacesTokens reports whether p's provider can name a replacement token
// for a device. The feedback-sink refuses token_replaced from a platform
// that cannot: a forged one would redirect an alias's pushes to any token.
func (p Platform) ReplacesTokens() bool { return capabilities[p].replacesTokens }

// Reports reports whether feedback about p's tokens may carry outcome o:
// every known outcome, except token_replaced where p's provider never
// replaces tokens.
func (p Platform) Reports(o Outcome) bool {
	if !p.Valid() || !o.known() {
		return false
	}
	if o == TokenReplaced {
		return p.ReplacesTokens()
	}
	return true
}
