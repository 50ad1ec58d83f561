package apns

import (
	"strings"
	"time"

	"github.com/sideshow/apns2/token"
)

// signer owns the one JWT of a signing key, shared by every connection of
// every app using the key. apns2's token.Token mints it on first use and
// again after 50 minutes, inside Apple's 20-60 minute window; renewExpired
// adds the early renewal APNs asks for with ExpiredProviderToken.
type signer struct {
	tok      *token.Token
	minRenew time.Duration
	// lastForced is the last renewal done by renewExpired; guarded by tok.
	lastForced time.Time
}

func newSigner(c *credential, minRenew time.Duration) *signer {
	return &signer{
		tok:      &token.Token{AuthKey: c.key, KeyID: c.keyID, TeamID: c.teamID},
		minRenew: minRenew,
	}
}

// renewal is the outcome of renewExpired.
type renewal int

const (
	// renewed: a new JWT was minted; retrying can succeed.
	renewed renewal = iota + 1
	// superseded: the rejected JWT was already replaced; retrying can succeed.
	superseded
	// refused: the current JWT was rejected but the last forced renewal is
	// too recent; minting again would earn TooManyProviderTokenUpdates.
	refused
)

// renewExpired handles an ExpiredProviderToken answer to a request that was
// authorised with header (the request's "authorization" value).
func (s *signer) renewExpired(header string, now time.Time) renewal {
	used := header
	if i := strings.IndexByte(header, ' '); i >= 0 {
		used = header[i+1:]
	}
	s.tok.Lock()
	defer s.tok.Unlock()
	if used != "" && used != s.tok.Bearer {
		return superseded
	}
	if !s.lastForced.IsZero() && now.Sub(s.lastForced) < s.minRenew {
		return refused
	}
	if _, err := s.tok.Generate(); err != nil {
		// Only a nil key fails, which loadCredential rules out.
		return refused
	}
	s.lastForced = now
	return renewed
}
