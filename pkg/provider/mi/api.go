package mi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/httpclient"
)

// API paths. v3 is v2 plus several packages per request; the sender uses it.
const (
	PathRegID           = "/v3/message/regid"
	PathAlias           = "/v3/message/alias"
	PathTopic           = "/v3/message/topic"
	PathAll             = "/v3/message/all" // every device of the package: MiPush's broadcast
	PathInvalidRegIDs   = "/v1/feedback/fetch_invalid_regids"
	feedbackPageSize    = 1000 // the feedback API returns at most this many per call
	maxFeedbackPages    = 100  // per PollInvalid call; the rest waits for the next poll
	maxAnswerBytes      = 4 << 20
	formContentType     = "application/x-www-form-urlencoded;charset=UTF-8"
	headerAuthorization = "Authorization"
)

// SendRegIDs sends m to regids (one request: keep them within the server's
// cap, Config.BatchSize for Send). A nil error means code 0; the invalid
// subset is then in Response.Data.BadRegIDs. Otherwise the error is an
// *Error classified per classify.go, matching a provider sentinel.
func (s *Sender) SendRegIDs(ctx context.Context, app string, m Message, regids []string) (*Response, error) {
	a, err := s.lookup(app)
	if err != nil {
		return nil, err
	}
	return s.do(ctx, a, pushRequest(a.host+PathRegID, m, "registration_id", regids, false))
}

// SendAliases sends m to the devices registered under aliases.
func (s *Sender) SendAliases(ctx context.Context, app string, m Message, aliases []string) (*Response, error) {
	a, err := s.lookup(app)
	if err != nil {
		return nil, err
	}
	// Repeated alias= params, as the Java SDK sends them: an alias may hold a comma.
	return s.do(ctx, a, pushRequest(a.host+PathAlias, m, "alias", aliases, true))
}

// SendTopic sends m to every device subscribed to topic.
func (s *Sender) SendTopic(ctx context.Context, app string, m Message, topic string) (*Response, error) {
	a, err := s.lookup(app)
	if err != nil {
		return nil, err
	}
	return s.do(ctx, a, pushRequest(a.host+PathTopic, m, "topic", []string{topic}, true))
}

// SendAll sends m to every device of the app's package (MiPush's
// broadcast: /v3/message/all, no target field).
func (s *Sender) SendAll(ctx context.Context, app string, m Message) (*Response, error) {
	a, err := s.lookup(app)
	if err != nil {
		return nil, err
	}
	return s.do(ctx, a, pushRequest(a.host+PathAll, m, "", nil, true))
}

// PollInvalid fetches the regids MiPush found invalid for app since the
// last call. The server forgets each regid once returned, so the regids
// fetched before a failure are returned together with the error: act on
// them even then. Pages are fetched while a full page (1000) comes back.
func (s *Sender) PollInvalid(ctx context.Context, app string) ([]string, error) {
	a, err := s.lookup(app)
	if err != nil {
		return nil, err
	}
	if a.feedbackHost == "" {
		return nil, fmt.Errorf("%w %q (app %q)", ErrNoFeedbackHost, a.region, app)
	}
	var all []string
	for range maxFeedbackPages {
		r, err := s.do(ctx, a, request{method: http.MethodGet, url: a.feedbackHost + PathInvalidRegIDs})
		if err != nil {
			return all, err
		}
		all = append(all, r.Data.List...)
		if len(r.Data.List) < feedbackPageSize {
			break
		}
	}
	return all, nil
}

func (s *Sender) lookup(name string) (*app, error) {
	if a := (*s.apps.Load())[name]; a != nil {
		return a, nil
	}
	return nil, fmt.Errorf("mi: %w: %q", provider.ErrUnknownApp, name)
}

// request is one MiPush request. The body is built when the request is
// made, after the waits for a slot, so that a message's time_to_live is the
// time left then; the expiry is checked at the same moment.
type request struct {
	method, url string
	body        func(now time.Time) []byte // nil: no body
	expiry      time.Time                  // zero: none
	// push marks a message request (its duration and kind are recorded in
	// the request metrics); a feedback poll is no push, delivers nothing
	// and is not counted.
	push bool
}

// pushRequest is the request sending m to targets.
func pushRequest(url string, m Message, key string, targets []string, repeat bool) request {
	return request{method: http.MethodPost, url: url, expiry: m.expiry, push: true,
		body: func(now time.Time) []byte { return targetBodyAt(m, now, key, targets, repeat) }}
}

// do sends one request over the current connections and classifies the
// answer. Requests run concurrently up to Config.MaxInFlightPerHost; each
// answer is read and mapped as soon as it arrives. A request whose expiry
// has passed once it has a slot is not made: the error is Expired.
func (s *Sender) do(ctx context.Context, a *app, r request) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	u, err := url.Parse(r.url)
	if err != nil {
		return nil, &Error{Kind: provider.Permanent, Reason: "bad request", sentinel: provider.ErrBadMessage, cause: err}
	}
	release, err := s.limit.acquire(ctx, u.Host)
	if err != nil {
		return nil, notSent(ctx, err)
	}
	defer release()
	g, err := s.pool.acquire(time.Now())
	if err != nil {
		return nil, notSent(ctx, err)
	}
	defer s.pool.release(g)
	opened, err := g.warm.enter(ctx, u.Host)
	if err != nil {
		return nil, notSent(ctx, err)
	}
	if opened != nil {
		defer opened() // the request failed before it had a connection
	}

	now := time.Now()
	if !r.expiry.IsZero() && !r.expiry.After(now) {
		return nil, &Error{Kind: provider.Expired, Reason: "expired", sentinel: ErrExpired}
	}
	var body []byte
	if r.body != nil {
		body = r.body(now)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, bodyReader(body))
	if err != nil {
		return nil, &Error{Kind: provider.Permanent, Reason: "bad request", sentinel: provider.ErrBadMessage, cause: err}
	}
	req.Header[headerAuthorization] = []string{a.authHeader}
	if body != nil {
		req.Header["Content-Type"] = []string{formContentType}
	}
	if opened != nil {
		req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			GotConn: func(httptrace.GotConnInfo) { opened() },
		}))
	}

	start := time.Now()
	s.cfg.Metrics.AddInFlight(platform, 1)
	status, header, answer, err := httpclient.RoundTrip(g.tr, req, maxAnswerBytes)
	s.cfg.Metrics.AddInFlight(platform, -1)
	var resp *Response
	if err != nil {
		err = transportError(ctx, err)
	} else {
		resp, err = classifyAnswer(status, header, answer, time.Now())
	}
	s.observe(a, r.push, time.Since(start), err)
	return resp, err
}

// notSent is the error of a request given up before it was made: waiting
// for a slot or a connection, or the sender closed.
func notSent(ctx context.Context, err error) *Error {
	e := transportError(ctx, err)
	e.cause = errors.Join(provider.ErrNotSent, e.cause)
	return e
}

// bodyReader avoids a non-nil io.Reader holding a nil *bytes.Reader.
func bodyReader(body []byte) io.Reader {
	if body == nil {
		return nil
	}
	return bytes.NewReader(body)
}

// observe records a push request's metrics (a feedback poll is no push:
// it neither delivers nor counts as a credential error in them) and logs
// what needs an operator.
func (s *Sender) observe(a *app, push bool, d time.Duration, err error) {
	kind := provider.Delivered
	var e *Error
	if errors.As(err, &e) {
		kind = e.Kind
	}
	if push {
		s.cfg.Metrics.ObserveRequest(platform, a.name, kind, d)
	}
	switch kind {
	case provider.Delivered:
	case provider.CredentialError:
		s.log.Warn("mi rejected the app's credentials or configuration", "app", a.name,
			"package", a.pkg, "secret", secretRef(a.secret), "reason", e.Reason, "message", e.Message, "trace_id", e.TraceID)
	default:
		s.log.Debug("mi request failed", "app", a.name, "kind", kind.String(), "reason", e.Reason,
			"message", e.Message, "trace_id", e.TraceID, "err", e.cause)
	}
}
