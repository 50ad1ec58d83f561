package fcm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"golang.org/x/oauth2/jwt"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

// scopeMessaging is the narrowest scope that allows messages:send.
const scopeMessaging = "https://www.googleapis.com/auth/firebase.messaging"

// credentials is an app's OAuth token source: the service account signs a
// JWT-bearer grant to its token_uri and the access token is cached until
// shortly before it expires. It implements oauth2.TokenSource.
type credentials struct {
	conf *jwt.Config
	// ctx only carries the HTTP client for the token endpoint.
	ctx context.Context

	mu  sync.Mutex
	src oauth2.TokenSource
}

func newCredentials(sa *serviceAccount, tokenClient *http.Client) (*credentials, error) {
	conf, err := google.JWTConfigFromJSON(sa.raw, scopeMessaging)
	if err != nil {
		return nil, err
	}
	c := &credentials{conf: conf, ctx: context.WithValue(context.Background(), oauth2.HTTPClient, tokenClient)}
	c.reset()
	return c, nil
}

// Token returns the cached access token, fetching one when needed.
func (c *credentials) Token() (*oauth2.Token, error) {
	c.mu.Lock()
	src := c.src
	c.mu.Unlock()
	return src.Token()
}

// reset forgets the cached token, after FCM refused it.
func (c *credentials) reset() {
	c.mu.Lock()
	c.src = c.conf.TokenSource(c.ctx)
	c.mu.Unlock()
}

// ensure makes sure a token is cached before a batch goes out, so an OAuth
// failure is seen here, with its cause, rather than inside the SDK (which
// hides it and retries it like a network error for ~7 s).
func (c *credentials) ensure(ctx context.Context) error {
	done := make(chan error, 1)
	// oauth2 takes no context; the token client's timeout bounds the fetch.
	go func() {
		_, err := c.Token()
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// classifyTokenError maps a failure to get an access token: the token
// endpoint refusing the grant is a credential error; anything transient
// (5xx, 408, 429, network, ctx) is Retry.
func classifyTokenError(err error) provider.Result {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return provider.Result{Kind: provider.Retry, Reason: reasonContext, Err: fmt.Errorf("%w: oauth2 token: %v", provider.ErrUnavailable, err)}
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		return provider.Result{Kind: provider.Retry, Reason: "oauth2 token endpoint unreachable", Err: fmt.Errorf("%w: %v", provider.ErrUnavailable, err)}
	}
	code := re.Response.StatusCode
	reason := "oauth2 " + oauthErrorCode(re)
	if code >= 500 || code == http.StatusRequestTimeout || code == http.StatusTooManyRequests {
		return provider.Result{Kind: provider.Retry, Reason: reason, Err: fmt.Errorf("%w: oauth2 token endpoint answered %d", provider.ErrUnavailable, code)}
	}
	return provider.Result{Kind: provider.CredentialError, Reason: reason, Err: fmt.Errorf("%w: oauth2 token endpoint answered %d: %s", provider.ErrCredentials, code, reason)}
}

// oauthErrorCode is RFC 6749's error parameter, or the HTTP status.
func oauthErrorCode(re *oauth2.RetrieveError) string {
	if re.ErrorCode != "" {
		return re.ErrorCode
	}
	var body struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(re.Body, &body) == nil && body.Error != "" {
		return body.Error
	}
	return re.Response.Status
}
