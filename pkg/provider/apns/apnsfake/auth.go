package apnsfake

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// jwtMaxAge is Apple's limit on a provider token's iat.
const jwtMaxAge = time.Hour

// signingKey is a registered .p8 key.
type signingKey struct {
	id, team string
	pub      *ecdsa.PublicKey
	topics   map[string]bool // bundle ids it may push to; empty: any
	seen     map[string]time.Time
}

// jwtEntry caches a JWT whose signature was verified once.
type jwtEntry struct {
	key     *signingKey
	iat     time.Time
	expired bool // forced by ExpireJWTs
}

// principal is what a request authenticated as.
type principal struct {
	topics map[string]bool // allowed bundle ids; empty: any
	// certTopic is the topic of a certificate, used when apns-topic is absent.
	certTopic string
}

// AddKey registers a signing key: requests with a JWT whose kid is keyID,
// signed by pub and issued by teamID, are accepted for topics (bundle ids,
// push-type suffixes implied; none means any topic).
func (s *Server) AddKey(keyID, teamID string, pub *ecdsa.PublicKey, topics ...string) {
	k := &signingKey{id: keyID, team: teamID, pub: pub, topics: map[string]bool{}, seen: map[string]time.Time{}}
	for _, t := range topics {
		k.topics[t] = true
	}
	s.mu.Lock()
	s.keys[keyID] = k
	s.mu.Unlock()
}

// ExpireJWTs makes every JWT of keyID seen so far answer 403
// ExpiredProviderToken, as if an hour had passed since it was issued.
func (s *Server) ExpireJWTs(keyID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.jwts {
		if e.key.id == keyID {
			e.expired = true
		}
	}
}

// JWTs is how many distinct JWTs of keyID the fake has accepted.
func (s *Server) JWTs(keyID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.keys[keyID]; k != nil {
		return len(k.seen)
	}
	return 0
}

// authenticate checks the request's JWT, else its client certificate.
func (s *Server) authenticate(r *http.Request, now time.Time) (principal, *apiError) {
	if h := r.Header.Get("authorization"); h != "" {
		scheme, raw, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "bearer") || raw == "" {
			return principal{}, errorOf(http.StatusForbidden, "InvalidProviderToken")
		}
		k, e := s.checkJWT(raw, now)
		if e != nil {
			return principal{}, e
		}
		return principal{topics: k.topics}, nil
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		leaf := r.TLS.PeerCertificates[0]
		if !s.certTrusted(leaf, r.TLS.PeerCertificates[1:]) {
			return principal{}, errorOf(http.StatusForbidden, "BadCertificate")
		}
		topic := leaf.Subject.CommonName
		return principal{topics: map[string]bool{topic: true}, certTopic: topic}, nil
	}
	return principal{}, errorOf(http.StatusForbidden, "MissingProviderToken")
}

// checkJWT verifies raw (once; then it is cached) and applies Apple's age
// and rotation-rate rules.
func (s *Server) checkJWT(raw string, now time.Time) (*signingKey, *apiError) {
	s.mu.Lock()
	e := s.jwts[raw]
	s.mu.Unlock()
	if e == nil {
		var err *apiError
		if e, err = s.verifyJWT(raw); err != nil {
			return nil, err
		}
		if err := s.recordJWT(raw, e, now); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	expired := e.expired
	s.mu.Unlock()
	if expired || now.Sub(e.iat) > jwtMaxAge {
		return nil, errorOf(http.StatusForbidden, "ExpiredProviderToken")
	}
	return e.key, nil
}

var errInvalidJWT = errorOf(http.StatusForbidden, "InvalidProviderToken")

// verifyJWT checks the ES256 signature against the key named by kid and
// that iss is the key's team.
func (s *Server) verifyJWT(raw string) (*jwtEntry, *apiError) {
	var key *signingKey
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"ES256"}), jwt.WithoutClaimsValidation(), jwt.WithJSONNumber())
	claims := jwt.MapClaims{}
	_, err := parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		s.mu.Lock()
		key = s.keys[kid]
		s.mu.Unlock()
		if key == nil {
			return nil, errors.New("unknown kid")
		}
		return key.pub, nil
	})
	if err != nil {
		return nil, errInvalidJWT
	}
	if iss, _ := claims["iss"].(string); iss != key.team {
		return nil, errInvalidJWT
	}
	n, ok := claims["iat"].(json.Number)
	if !ok {
		return nil, errInvalidJWT
	}
	iat, err := n.Int64()
	if err != nil {
		return nil, errInvalidJWT
	}
	return &jwtEntry{key: key, iat: time.Unix(iat, 0)}, nil
}

// recordJWT counts a newly seen JWT of its key, refusing it when the key
// rotates faster than Options.MaxJWTsPerKey per JWTWindow.
func (s *Server) recordJWT(raw string, e *jwtEntry, now time.Time) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jwts[raw] != nil { // a concurrent request recorded it first
		return nil
	}
	if limit := s.opts.MaxJWTsPerKey; limit > 0 {
		recent := 0
		for _, at := range e.key.seen {
			if now.Sub(at) < s.opts.JWTWindow {
				recent++
			}
		}
		if recent >= limit {
			return errorOf(http.StatusTooManyRequests, "TooManyProviderTokenUpdates")
		}
	}
	e.key.seen[raw] = now
	s.jwts[raw] = e
	return nil
}

// certTrusted verifies a client certificate against the fake's CA and
// Options.ClientCAs, caching the verdict per parsed certificate.
func (s *Server) certTrusted(leaf *x509.Certificate, chain []*x509.Certificate) bool {
	s.mu.Lock()
	ok, cached := s.certs[leaf]
	s.mu.Unlock()
	if cached {
		return ok
	}
	inter := x509.NewCertPool()
	for _, c := range chain {
		inter.AddCert(c)
	}
	ok = false
	for _, roots := range []*x509.CertPool{s.clientCA.pool(), s.opts.ClientCAs} {
		if roots == nil {
			continue
		}
		_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		if err == nil {
			ok = true
			break
		}
	}
	s.mu.Lock()
	s.certs[leaf] = ok
	s.mu.Unlock()
	return ok
}
