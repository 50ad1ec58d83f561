package fcmfake

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

const (
	grantJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	// maxAssertionLife is Google's limit on exp - iat of the assertion.
	maxAssertionLife = time.Hour
	clockSkew        = 5 * time.Minute
)

// scopes that allow sending FCM messages.
var sendScopes = []string{
	"https://www.googleapis.com/auth/firebase.messaging",
	"https://www.googleapis.com/auth/cloud-platform",
}

// assertionClaims are the claims of a service account's JWT-bearer grant.
type assertionClaims struct {
	jwt.RegisteredClaims
	Scope string `json:"scope"`
}

type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// handleToken is the OAuth token endpoint: it verifies the RS256 assertion
// of a registered service account and issues an access token.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	s.tokenRequests.Add(1)
	if status, ok := s.takeTokenFailure(); ok {
		code := "internal_failure"
		if status < 500 {
			code = "invalid_grant"
		}
		writeJSON(w, status, oauthError{Error: code, Description: "injected failure"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, oauthError{Error: "invalid_request", Description: err.Error()})
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != grantJWTBearer {
		writeJSON(w, http.StatusBadRequest, oauthError{Error: "unsupported_grant_type", Description: "Invalid grant_type: " + gt})
		return
	}
	acct, err := s.verifyAssertion(r.PostForm.Get("assertion"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, oauthError{Error: "invalid_grant", Description: err.Error()})
		return
	}
	tok, err := randomHex(24)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, oauthError{Error: "internal_failure"})
		return
	}
	tok = "ya29.fake-" + tok
	s.mu.Lock()
	s.grants[tok] = grant{email: acct.email, projectID: acct.projectID, expires: time.Now().Add(s.opts.AccessTokenTTL)}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"expires_in":   int(s.opts.AccessTokenTTL / time.Second),
		"token_type":   "Bearer",
	})
}

// verifyAssertion checks signature, issuer, audience, lifetime and scope.
func (s *Server) verifyAssertion(assertion string) (*account, error) {
	if assertion == "" {
		return nil, errors.New("missing assertion")
	}
	var claims assertionClaims
	var acct *account
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	_, err := parser.ParseWithClaims(assertion, &claims, func(t *jwt.Token) (any, error) {
		c := t.Claims.(*assertionClaims)
		kid, _ := t.Header["kid"].(string)
		s.mu.Lock()
		defer s.mu.Unlock()
		acct = s.accounts[c.Issuer]
		if acct == nil {
			return nil, fmt.Errorf("no service account %q", c.Issuer)
		}
		key := acct.keys[kid]
		if key == nil {
			return nil, fmt.Errorf("key %q of %q is unknown or revoked", kid, c.Issuer)
		}
		return key, nil
	})
	if err != nil {
		return nil, fmt.Errorf("invalid JWT: %v", err)
	}
	now := time.Now()
	switch {
	case !claims.VerifyAudience(s.TokenURL(), true):
		return nil, fmt.Errorf("invalid JWT: aud %v is not %s", claims.Audience, s.TokenURL())
	case claims.IssuedAt == nil || claims.ExpiresAt == nil:
		return nil, errors.New("invalid JWT: iat and exp are required")
	case claims.IssuedAt.After(now.Add(clockSkew)) || claims.ExpiresAt.Before(now):
		return nil, errors.New("invalid JWT: the token must be short-lived (60 minutes) and in a reasonable timeframe")
	case claims.ExpiresAt.Sub(claims.IssuedAt.Time) > maxAssertionLife:
		return nil, errors.New("invalid JWT: exp - iat exceeds one hour")
	case !hasSendScope(claims.Scope):
		return nil, fmt.Errorf("scope %q grants no FCM access", claims.Scope)
	}
	return acct, nil
}

func hasSendScope(scope string) bool {
	for _, got := range strings.Fields(scope) {
		for _, want := range sendScopes {
			if got == want {
				return true
			}
		}
	}
	return false
}

// authorize checks the bearer token for project and returns the answer to
// give when it is not acceptable.
func (s *Server) authorize(r *http.Request, project string) (apiError, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	g, known := s.grants[tok]
	switch {
	case !ok || !known || time.Now().After(g.expires):
		return errUnauth, false
	case !s.hasProject(project):
		return errNoProject, false
	case g.projectID != project:
		return errDenied(project), false
	}
	return apiError{}, true
}

// hasProject must be called with s.mu held.
func (s *Server) hasProject(project string) bool {
	_, ok := s.projects[project]
	return ok
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
