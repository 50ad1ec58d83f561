package apns

import (
	"crypto/sha1"
	"encoding/hex"
)

// apnsIDNamespace is pushfleet's RFC 9562 name-space for apns-id values
// (a random UUID fixed once).
var apnsIDNamespace = [16]byte{
	0x5b, 0x0e, 0x2c, 0x6e, 0x8a, 0x43, 0x4f, 0x53, 0x9d, 0x1c, 0x3e, 0x7a, 0x61, 0x2f, 0x90, 0x4d,
}

// apnsID is the apns-id of notification seed (the intent id) to token: a
// version 5 (name-based, SHA-1) UUID in lowercase canonical form. The same
// intent and token always give the same id, so a retried push can be traced
// in Apple's delivery logs.
func apnsID(seed, token string) string {
	h := sha1.New()
	h.Write(apnsIDNamespace[:])
	h.Write([]byte(seed))
	h.Write([]byte{0}) // the separator keeps ("ab","c") apart from ("a","bc")
	h.Write([]byte(token))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], u[10:16])
	return string(b[:])
}
