package hms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

// retryFailedRefresh is how long a failed background renewal waits before
// the next one, while the current token is still valid.
const retryFailedRefresh = 5 * time.Second

// tokenSource is one app's OAuth 2.0 client-credentials token, cached until
// RefreshBefore its expiry and then renewed in the background while the
// current one is still used. At most one token request per app is in
// flight: concurrent callers without a valid token wait for it
// (singleflight), so a burst of jobs or of 80200003 answers costs one
// token request.
type tokenSource struct {
	app           string
	creds         creds
	url           string
	client        *http.Client
	timeout       time.Duration
	refreshBefore time.Duration
	// bg counts token requests running, so that Close can wait for them;
	// base ends them when the sender closes.
	bg   *sync.WaitGroup
	base context.Context

	mu       sync.Mutex
	tok      string
	exp      time.Time
	lifetime time.Duration
	failedAt time.Time
	inflight *refresh
}

// refresh is one token request; done is closed when it has ended.
type refresh struct {
	done chan struct{}
	tok  string
	err  error
}

func newTokenSource(name string, c creds, cfg Config, client *http.Client, base context.Context, bg *sync.WaitGroup) *tokenSource {
	return &tokenSource{app: name, creds: c, url: cfg.TokenURL, client: client,
		timeout: cfg.TokenTimeout, refreshBefore: cfg.RefreshBefore, base: base, bg: bg}
}

// token returns a valid access token, waiting for a token request only when
// none is cached. A cached token near its expiry is returned at once while
// its renewal runs in the background.
func (ts *tokenSource) token(ctx context.Context) (string, error) {
	now := time.Now()
	ts.mu.Lock()
	if ts.tok != "" && now.Before(ts.exp) {
		tok := ts.tok
		margin := min(ts.refreshBefore, ts.lifetime/2)
		if !now.Before(ts.exp.Add(-margin)) && ts.inflight == nil && now.Sub(ts.failedAt) >= retryFailedRefresh {
			ts.start()
		}
		ts.mu.Unlock()
		return tok, nil
	}
	r := ts.inflight
	if r == nil {
		r = ts.start()
	}
	ts.mu.Unlock()
	select {
	case <-r.done:
		return r.tok, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// invalidate drops tok if it is still the cached token (Push Kit refused
// it), so that the next token call fetches a new one. A token already
// replaced by a concurrent renewal is left alone.
func (ts *tokenSource) invalidate(tok string) {
	ts.mu.Lock()
	if ts.tok == tok {
		ts.tok, ts.exp = "", time.Time{}
	}
	ts.mu.Unlock()
}

// start begins a token request; ts.mu must be held.
func (ts *tokenSource) start() *refresh {
	r := &refresh{done: make(chan struct{})}
	ts.inflight = r
	ts.bg.Go(func() { ts.run(r) })
	return r
}

func (ts *tokenSource) run(r *refresh) {
	// Detached from any caller: a caller giving up must not fail the
	// request the others wait for. The timeout and Close bound it.
	ctx, cancel := context.WithTimeout(ts.base, ts.timeout)
	defer cancel()
	issued := time.Now()
	tok, lifetime, err := ts.fetch(ctx)
	ts.mu.Lock()
	if err == nil {
		ts.tok, ts.exp, ts.lifetime = tok, issued.Add(lifetime), lifetime
	} else {
		ts.failedAt = time.Now()
	}
	ts.inflight = nil
	ts.mu.Unlock()
	r.tok, r.err = tok, err
	close(r.done)
}

// tokenAnswer is the token endpoint's JSON: a token, or an error. Huawei's
// error and sub_error are numbers; some OAuth servers send strings.
type tokenAnswer struct {
	AccessToken      string          `json:"access_token"`
	ExpiresIn        json.Number     `json:"expires_in"`
	TokenType        string          `json:"token_type"`
	Error            json.RawMessage `json:"error"`
	SubError         json.RawMessage `json:"sub_error"`
	ErrorDescription string          `json:"error_description"`
}

// TokenError is a failed access token request.
type TokenError struct {
	// HTTPStatus is the token endpoint's status; 0 when it did not answer.
	HTTPStatus int
	// Code is the OAuth error (and sub_error) from the body, if any.
	Code        string
	Description string
	// Rejected: the endpoint refused our client credentials (a
	// CredentialError); otherwise the failure is transient.
	Rejected bool
	cause    error
}

func (e *TokenError) Error() string {
	var b strings.Builder
	b.WriteString("hms: oauth token")
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, ": http %d", e.HTTPStatus)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, ": error %s", e.Code)
	}
	if e.Description != "" {
		fmt.Fprintf(&b, " %q", e.Description)
	}
	if e.cause != nil {
		fmt.Fprintf(&b, ": %v", e.cause)
	}
	return b.String()
}

func (e *TokenError) Unwrap() error { return e.cause }

// fetch makes one client-credentials token request.
func (ts *tokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {ts.creds.clientID},
		"client_secret": {ts.creds.secret},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.url, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, &TokenError{Rejected: true, cause: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := ts.client.Do(req)
	if err != nil {
		return "", 0, &TokenError{cause: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", 0, &TokenError{HTTPStatus: resp.StatusCode, cause: err}
	}
	var a tokenAnswer
	perr := json.Unmarshal(body, &a)
	e := &TokenError{HTTPStatus: resp.StatusCode, Code: oauthCode(a), Description: a.ErrorDescription}
	switch {
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout:
		return "", 0, e
	case resp.StatusCode != http.StatusOK:
		e.Rejected = true
		return "", 0, e
	case perr != nil:
		e.cause = fmt.Errorf("unreadable answer: %w", perr)
		return "", 0, e
	case a.AccessToken == "":
		// A 200 naming an error is a refusal; one naming nothing is junk.
		e.Rejected = e.Code != ""
		if !e.Rejected {
			e.cause = errors.New("answer has no access_token")
		}
		return "", 0, e
	}
	secs, err := a.ExpiresIn.Int64()
	if err != nil || secs <= 0 {
		// Huawei documents 3600 s; an answer without a usable lifetime
		// is still a token: assume a short one so that it is renewed.
		secs = 300
	}
	return a.AccessToken, time.Duration(secs) * time.Second, nil
}

func oauthCode(a tokenAnswer) string {
	code := strings.Trim(string(a.Error), `"`)
	if sub := strings.Trim(string(a.SubError), `"`); sub != "" {
		code += "/" + sub
	}
	return code
}

// tokenResult maps a failed token request onto a Result for the tokens
// that could not be sent: refused credentials are a CredentialError (the
// app pauses, tokens are kept); anything else is Retry. Nothing was sent.
func tokenResult(ctx context.Context, err error) provider.Result {
	var te *TokenError
	switch {
	case ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return provider.Result{Kind: provider.Retry, Reason: "context ended before an access token",
			Err: fmt.Errorf("%w: %w: %v", provider.ErrUnavailable, provider.ErrNotSent, err)}
	case errors.As(err, &te) && te.Rejected:
		reason := "oauth " + strconv.Itoa(te.HTTPStatus)
		if te.Code != "" {
			reason = "oauth error " + te.Code
		}
		return provider.Result{Kind: provider.CredentialError, Reason: reason,
			Err: fmt.Errorf("%w: %w: %w", provider.ErrCredentials, provider.ErrNotSent, err)}
	}
	return provider.Result{Kind: provider.Retry, Reason: "oauth token endpoint unavailable",
		Err: fmt.Errorf("%w: %w: %w", provider.ErrUnavailable, provider.ErrNotSent, err)}
}
