package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// idPattern is the contract's intent id rule (pkg/events).
var idPattern = regexp.MustCompile(`^[A-Za-z0-9_:-]{1,128}$`)

// publishConcurrency bounds the publishes of one batch in flight at once.
const publishConcurrency = 16

// IntentResult is one intent's outcome in a response.
type IntentResult struct {
	Index int    `json:"index"`
	ID    string `json:"id"`
	App   string `json:"app"`
	// Duplicate: the stream already held this app's intent id inside its
	// dedup window (a retry); it is not sent again.
	Duplicate bool `json:"duplicate"`
	// Stream and Seq are where JetStream stored it (of the first copy, for
	// a duplicate).
	Stream string `json:"stream,omitempty"`
	Seq    uint64 `json:"seq,omitempty"`
	// Status is this intent's HTTP status (200, or the error's).
	Status int `json:"status"`
	// Error is set when this intent was not published.
	Error *Problem `json:"error,omitempty"`
}

// IntentsResponse answers POST /v1/intents.
type IntentsResponse struct {
	// ID and Duplicate repeat the only intent's, for a request of one intent.
	ID        string         `json:"id,omitempty"`
	Duplicate *bool          `json:"duplicate,omitempty"`
	Published int            `json:"published"`
	Dupes     int            `json:"duplicates"`
	Failed    int            `json:"failed"`
	Intents   []IntentResult `json:"intents"`
}

// readBody reads a JSON request body within MaxBody; it answers the
// problem itself (415, 413, 400) and returns ok=false then. With anyType
// the Content-Type is not checked (gorush reads JSON whatever it says, and
// curl -d sends application/x-www-form-urlencoded).
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request, anyType bool) ([]byte, bool) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !anyType {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !isJSONSuffix(mt)) {
			writeProblem(w, r, newProblem(http.StatusUnsupportedMediaType, probMediaType,
				fmt.Sprintf("Content-Type %q: send application/json", ct)))
			return nil, false
		}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.cfg.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeProblem(w, r, newProblem(http.StatusRequestEntityTooLarge, probTooLarge,
				fmt.Sprintf("the body exceeds the limit of %d bytes (--gateway-max-body)", g.cfg.MaxBody)))
			return nil, false
		}
		writeProblem(w, r, newProblem(http.StatusBadRequest, probMalformed, "reading the body: "+err.Error()))
		return nil, false
	}
	if !utf8.Valid(b) {
		writeProblem(w, r, newProblem(http.StatusBadRequest, probMalformed, "the body is not valid UTF-8"))
		return nil, false
	}
	return b, true
}

func isJSONSuffix(mt string) bool {
	return len(mt) > 5 && mt[len(mt)-5:] == "+json"
}

// idempotencyKey is the Idempotency-Key header, checked against the id rule.
func idempotencyKey(r *http.Request) (string, *Problem) {
	k := r.Header.Get("Idempotency-Key")
	if k == "" || idPattern.MatchString(k) {
		return k, nil
	}
	p := newProblem(http.StatusUnprocessableEntity, probInvalid,
		"Idempotency-Key must be 1-128 characters of A-Z a-z 0-9 _ : - (it becomes the intent id)")
	p.Field = "Idempotency-Key"
	return "", p
}

// deriveID is the id of the index-th intent of a request whose body gave
// none: the Idempotency-Key (with ":<index>" in a batch), else a random id.
func deriveID(idemKey string, index int, batch bool) string {
	switch {
	case idemKey != "" && !batch:
		return idemKey
	case idemKey != "":
		id := fmt.Sprintf("%s:%d", idemKey, index)
		if len(id) <= 128 {
			return id
		}
		return fmt.Sprintf("%s:%d", idemKey[:128-len(id)+len(idemKey)], index)
	}
	return randomID()
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "gw-" + hex.EncodeToString(b[:])
}

// describeJSON names the field of a JSON decoding error.
func describeJSON(err error) (field, detail string) {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field = te.Field
		if field == "" {
			field = "(intent)"
		}
		return field, fmt.Sprintf("expected %s, got JSON %s", te.Type, te.Value)
	case errors.As(err, &se):
		return "", fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, err)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// Unknown fields inside targets, notification or overrides are
		// refused (typos that would lose content); the top level keeps them.
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return name, "unknown field (a typo?): targets, notification and overrides take only their documented fields"
	}
	return "", err.Error()
}

// check validates an intent as the publisher and the dispatcher will, so
// that a batch is refused whole before anything of it is published.
func (g *Gateway) check(in *events.Intent) *ItemError {
	fail := func(err error) *ItemError {
		var ve *events.ValidationError
		if errors.As(err, &ve) {
			return &ItemError{ID: in.ID, Field: ve.Field, Detail: ve.Reason}
		}
		return &ItemError{ID: in.ID, Detail: err.Error()}
	}
	if err := in.Validate(g.cfg.Limits); err != nil {
		return fail(err)
	}
	now := g.now()
	if in.Expired(now) {
		return &ItemError{ID: in.ID, Field: "notification.expiry", Detail: "is already in the past"}
	}
	if err := in.CheckSendAt(now, g.cfg.Horizon); err != nil {
		return fail(err)
	}
	lim := g.cfg.Limits.MaxIntentBytes
	if lim == 0 {
		lim = events.DefaultLimits.MaxIntentBytes
	}
	if b, err := json.Marshal(in); err != nil {
		return fail(err)
	} else if len(b) > lim {
		return &ItemError{ID: in.ID, Field: "(intent)", Detail: fmt.Sprintf("%d bytes exceeds the limit of %d (--max-intent-bytes)", len(b), lim)}
	}
	return nil
}

// forbidden answers 403 when the key may not publish for one of the apps.
func (g *Gateway) forbidden(w http.ResponseWriter, r *http.Request, k *Key, ins []*events.Intent) bool {
	for i, in := range ins {
		if in.App == "" || k.Allows(in.App) {
			continue
		}
		g.m.Intents.WithLabelValues(g.appLabel(in.App), "forbidden").Add(float64(len(ins)))
		p := newProblem(http.StatusForbidden, probForbidden,
			fmt.Sprintf("API key %q may not publish for app %q (it may for: %s); nothing was published", k.Name, in.App, listApps(k.Apps)))
		p.Field = "app"
		if len(ins) > 1 {
			p.Index = &i
		}
		writeProblem(w, r, p)
		return true
	}
	return false
}

func listApps(apps []string) string {
	if len(apps) == 1 && apps[0] == "*" {
		return "every app"
	}
	var b bytes.Buffer
	for i, a := range apps {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a)
	}
	return b.String()
}

// invalid answers 422 naming each invalid intent's field; nothing is published.
func (g *Gateway) invalid(w http.ResponseWriter, r *http.Request, errs []ItemError, n int, apps []string) {
	for _, a := range apps {
		g.m.Intents.WithLabelValues(g.appLabel(a), "invalid").Inc()
	}
	var p *Problem
	if n == 1 && len(errs) == 1 {
		e := errs[0]
		p = newProblem(http.StatusUnprocessableEntity, probInvalid, e.Field+": "+e.Detail)
		if e.Field == "" {
			p.Detail = e.Detail
		}
		p.Field = e.Field
	} else {
		p = newProblem(http.StatusUnprocessableEntity, probInvalid,
			fmt.Sprintf("%d of %d intents are invalid; nothing was published", len(errs), n))
		p.Errors = errs
	}
	writeProblem(w, r, p)
}

func (g *Gateway) appLabel(app string) string {
	if g.fleet == nil {
		return app
	}
	return g.fleet.App(app)
}

// publishAll publishes the intents, up to publishConcurrency at once.
func (g *Gateway) publishAll(ctx context.Context, ins []*events.Intent) []IntentResult {
	recordIntents(ctx, ins)
	res := make([]IntentResult, len(ins))
	sem := make(chan struct{}, publishConcurrency)
	var wg sync.WaitGroup
	for i, in := range ins {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			res[i] = g.publish(ctx, i, in)
		}()
	}
	wg.Wait()
	return res
}

func (g *Gateway) publish(ctx context.Context, i int, in *events.Intent) IntentResult {
	out := IntentResult{Index: i, ID: in.ID, App: in.App}
	ack, err := g.pub.Publish(ctx, in)
	app := g.appLabel(in.App)
	if err != nil {
		out.Error = publishProblem(err)
		out.Status = out.Error.Status
		result := "failed"
		if out.Status == http.StatusUnprocessableEntity {
			result = "invalid"
		}
		g.m.Intents.WithLabelValues(app, result).Inc()
		g.log.Warn("publish failed", "app", in.App, "id", in.ID, "err", err)
		return out
	}
	out.Status = http.StatusOK
	out.Duplicate = ack.Duplicate
	out.Stream, out.Seq = ack.Stream, ack.Sequence
	if ack.Duplicate {
		g.m.Intents.WithLabelValues(app, "duplicate").Inc()
	} else {
		g.m.Intents.WithLabelValues(app, "published").Inc()
	}
	return out
}

// publishProblem maps a publish error to its problem.
func publishProblem(err error) *Problem {
	var ve *events.ValidationError
	var apiErr *jetstream.APIError
	switch {
	case errors.As(err, &ve):
		p := newProblem(http.StatusUnprocessableEntity, probInvalid, ve.Field+": "+ve.Reason)
		p.Field = ve.Field
		return p
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
		p := newProblem(http.StatusGatewayTimeout, probTimeout,
			"JetStream did not acknowledge the intent in time; retry with the same id (a retry is deduplicated)")
		return p
	case errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders):
		p := newProblem(http.StatusServiceUnavailable, probUnavailable,
			"no stream answers on push.intents (PUSH_INTENTS is not provisioned or JetStream is down); retry later")
		p.RetryAfter = 1
		return p
	case errors.As(err, &apiErr):
		p := newProblem(http.StatusServiceUnavailable, probUnavailable,
			fmt.Sprintf("JetStream refused the intent: %s; retry later", apiErr.Description))
		p.RetryAfter = 1
		return p
	}
	p := newProblem(http.StatusServiceUnavailable, probUnavailable, "publishing failed: "+err.Error()+"; retry later")
	p.RetryAfter = 1
	return p
}

// postIntents serves POST /v1/intents: one intent, or a JSON array of them.
func (g *Gateway) postIntents(w http.ResponseWriter, r *http.Request) {
	k := keyOf(r)
	body, ok := g.readBody(w, r, false)
	if !ok {
		return
	}
	idem, prob := idempotencyKey(r)
	if prob != nil {
		writeProblem(w, r, prob)
		return
	}
	trimmed := bytes.TrimSpace(body)
	batch := len(trimmed) > 0 && trimmed[0] == '['
	var raws []json.RawMessage
	if batch {
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			_, detail := describeJSON(err)
			writeProblem(w, r, newProblem(http.StatusBadRequest, probMalformed, "the body is not a JSON intent or array of intents: "+detail))
			return
		}
		switch {
		case len(raws) == 0:
			p := newProblem(http.StatusUnprocessableEntity, probInvalid, "the batch is empty")
			p.Field = "(batch)"
			writeProblem(w, r, p)
			return
		case len(raws) > g.cfg.MaxBatch:
			p := newProblem(http.StatusUnprocessableEntity, probInvalid,
				fmt.Sprintf("%d intents exceed the limit of %d per request (--gateway-max-batch)", len(raws), g.cfg.MaxBatch))
			p.Field = "(batch)"
			writeProblem(w, r, p)
			return
		}
	} else {
		raws = []json.RawMessage{trimmed}
	}
	ins := make([]*events.Intent, len(raws))
	var errs []ItemError
	for i, raw := range raws {
		var in events.Intent
		if err := json.Unmarshal(raw, &in); err != nil {
			field, detail := describeJSON(err)
			if !batch && field == "" {
				writeProblem(w, r, newProblem(http.StatusBadRequest, probMalformed, "the body is not a JSON intent: "+detail))
				return
			}
			if field == "" {
				field = "(intent)"
			}
			errs = append(errs, ItemError{Index: i, Field: field, Detail: detail})
			ins[i] = &in
			continue
		}
		if in.ID == "" {
			in.ID = deriveID(idem, i, batch)
		}
		ins[i] = &in
	}
	if g.forbidden(w, r, k, ins) {
		return
	}
	for i, in := range ins {
		if hasErr(errs, i) {
			continue
		}
		if e := g.check(in); e != nil {
			e.Index = i
			errs = append(errs, *e)
		}
	}
	if len(errs) > 0 {
		apps := make([]string, len(ins))
		for i, in := range ins {
			apps[i] = in.App
		}
		g.invalid(w, r, errs, len(ins), apps)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.Timeout)
	defer cancel()
	res := g.publishAll(ctx, ins)
	g.stats.intents(res)
	resp := IntentsResponse{Intents: res}
	var lastErr *Problem
	for _, x := range res {
		switch {
		case x.Error != nil:
			resp.Failed++
			lastErr = x.Error
		case x.Duplicate:
			resp.Dupes++
		default:
			resp.Published++
		}
	}
	if resp.Failed == len(res) && (len(res) == 1 || allSame(res)) {
		writeProblem(w, r, lastErr)
		return
	}
	if len(res) == 1 {
		resp.ID = res[0].ID
		resp.Duplicate = &res[0].Duplicate
	}
	status := http.StatusOK
	if resp.Failed > 0 {
		status = http.StatusMultiStatus
	}
	writeJSON(w, status, resp)
}

func hasErr(errs []ItemError, i int) bool {
	for _, e := range errs {
		if e.Index == i {
			return true
		}
	}
	return false
}

// allSame: every intent failed with the same status.
func allSame(res []IntentResult) bool {
	for _, x := range res {
		if x.Status != res[0].Status {
			return false
		}
	}
	return true
}
