package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// MaxFeedbackBatch bounds the events one feedback message may carry:
// DecodeFeedbackEvents refuses more, so a forged message cannot make a
// reader allocate without limit. Publishers stay far below it
// (internal/feedback splits at 1,000).
const MaxFeedbackBatch = 10_000

// A feedback message carries its events in one of two forms:
//
//   - the batch form, which everything this version publishes:
//     {"app":"shop","platform":"apns","events":[{"token":"…","outcome":"delivered","at":"…"},…]},
//     each element a Feedback without app and platform, named once by the
//     envelope;
//   - the single form, one Feedback as it is (what earlier versions
//     published; still read during a rolling upgrade and from the stream's
//     retention).
//
// feedbackWire decodes both: "events" tells them apart.
type feedbackWire struct {
	Feedback
	Events []Feedback `json:"events"`
}

// DecodeFeedbackEvents parses one message of push.feedback.> into the
// per-token events it carries, each checked as DecodeFeedback checks one,
// with App and Platform taken from the batch's envelope. Callers that
// follow the feedback stream use it rather than DecodeFeedback.
//
// A batch is all or nothing: one bad event refuses the message, with an
// error naming its index ("event 3: …"). A batch holds 1 to
// MaxFeedbackBatch events; its envelope carries only app, platform and
// events, its events neither app nor platform. Errors wrap ErrMalformed.
func DecodeFeedbackEvents(b []byte) ([]Feedback, error) {
	var w feedbackWire
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w feedback: %v", ErrMalformed, err)
	}
	if w.Events == nil {
		if err := w.check(); err != nil {
			return nil, fmt.Errorf("%w feedback: %w", ErrMalformed, err)
		}
		return []Feedback{w.Feedback}, nil
	}
	if err := w.checkEnvelope(); err != nil {
		return nil, fmt.Errorf("%w feedback batch: %w", ErrMalformed, err)
	}
	for i := range w.Events {
		f := &w.Events[i]
		if f.App != "" || f.Platform != "" {
			return nil, fmt.Errorf("%w feedback batch: event %d: app and platform belong to the envelope", ErrMalformed, i)
		}
		f.App, f.Platform = w.App, w.Platform
		if err := f.checkEvent(); err != nil {
			return nil, fmt.Errorf("%w feedback batch: event %d: %w", ErrMalformed, i, err)
		}
	}
	return w.Events, nil
}

// checkEnvelope validates a batch's envelope: a valid origin, 1 to
// MaxFeedbackBatch events and no event field of its own.
func (w *feedbackWire) checkEnvelope() error {
	if err := checkOrigin(w.App, w.Platform); err != nil {
		return err
	}
	f := &w.Feedback
	switch {
	case len(w.Events) == 0:
		return errors.New("events is empty")
	case len(w.Events) > MaxFeedbackBatch:
		return fmt.Errorf("%d events exceed the limit of %d", len(w.Events), MaxFeedbackBatch)
	case f.Token != "" || f.Outcome != "" || f.Reason != "" || f.IntentID != "" || f.JobID != "" ||
		!f.At.IsZero() || f.ProviderAt != nil || f.NewToken != "":
		return errors.New("the envelope carries only app, platform and events")
	}
	return nil
}

// ErrMixedBatch: the events given to AppendFeedbackBatch do not all name
// the same app and platform, which the envelope names once.
var ErrMixedBatch = errors.New("feedback batch mixes apps or platforms")

// AppendFeedbackBatch appends the batch form of fbs to dst. All events
// must name the same app and platform (else ErrMixedBatch); there must be
// 1 to MaxFeedbackBatch of them. It does not validate the events (their
// publisher made them); it encodes exactly as encoding/json would (HTML
// characters unescaped), without reflection or an allocation per event.
func AppendFeedbackBatch(dst []byte, fbs []Feedback) ([]byte, error) {
	if len(fbs) == 0 || len(fbs) > MaxFeedbackBatch {
		return dst, fmt.Errorf("feedback batch of %d events: want 1 to %d", len(fbs), MaxFeedbackBatch)
	}
	app, p := fbs[0].App, fbs[0].Platform
	dst = append(dst, `{"app":`...)
	dst = appendJSONString(dst, app)
	dst = append(dst, `,"platform":`...)
	dst = appendJSONString(dst, string(p))
	dst = append(dst, `,"events":[`...)
	for i := range fbs {
		f := &fbs[i]
		if f.App != app || f.Platform != p {
			return dst, fmt.Errorf("%w: %s/%s and %s/%s", ErrMixedBatch, p, app, f.Platform, f.App)
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendEvent(dst, f); err != nil {
			return dst, fmt.Errorf("feedback batch: event %d: %w", i, err)
		}
	}
	return append(dst, "]}"...), nil
}

// appendEvent appends one element of a batch: f without app and platform,
// its fields in Feedback's order with Feedback's omitempty rules.
func appendEvent(dst []byte, f *Feedback) ([]byte, error) {
	var err error
	dst = append(dst, `{"token":`...)
	dst = appendJSONString(dst, f.Token)
	dst = append(dst, `,"outcome":`...)
	dst = appendJSONString(dst, string(f.Outcome))
	dst = appendOptional(dst, `,"reason":`, f.Reason)
	dst = appendOptional(dst, `,"intent_id":`, f.IntentID)
	dst = appendOptional(dst, `,"job_id":`, f.JobID)
	dst = append(dst, `,"at":`...)
	if dst, err = appendJSONTime(dst, f.At); err != nil {
		return dst, fmt.Errorf("at: %w", err)
	}
	if f.ProviderAt != nil {
		dst = append(dst, `,"provider_at":`...)
		if dst, err = appendJSONTime(dst, *f.ProviderAt); err != nil {
			return dst, fmt.Errorf("provider_at: %w", err)
		}
	}
	dst = appendOptional(dst, `,"new_token":`, f.NewToken)
	return append(dst, '}'), nil
}

func appendOptional(dst []byte, key, v string) []byte {
	if v == "" {
		return dst
	}
	return appendJSONString(append(dst, key...), v)
}

// appendJSONTime appends t as encoding/json does (time.Time.MarshalJSON:
// RFC 3339 with nanoseconds), refusing what it refuses.
func appendJSONTime(dst []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		return dst, fmt.Errorf("year %d outside of [0,9999]", y)
	}
	if _, off := t.Zone(); off <= -24*3600 || off >= 24*3600 {
		return dst, errors.New("timezone hour outside of range [0,23]")
	}
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"'), nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as encoding/json quotes a string with
// HTML escaping off: invalid UTF-8 becomes U+FFFD, U+2028 and U+2029 are
// escaped for JavaScript's sake.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
