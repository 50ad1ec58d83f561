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
