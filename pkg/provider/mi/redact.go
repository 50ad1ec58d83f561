package mi

import (
	"crypto/sha256"
	"encoding/hex"
)

// secretRef names a credential or token in logs without revealing it: the
// first 8 hex digits of its SHA-256.
func secretRef(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:4])
}
