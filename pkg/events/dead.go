package events

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
	"unicode/utf8"
)

// Stages name where a dead letter came from; a stage is a subject token.
const (
	StageIntents  = "intents"
	StageFeedback = "feedback"
)

// SenderStage is the dead-letter stage of platform p's sender.
func SenderStage(p Platform) string { return string(p) }

// DefaultMaxDeadLetterBytes bounds an encoded dead letter (512 KiB), well
// below NATS's default max_payload (1 MiB): the dead letter of a message
// close to max_payload, with its payload base64-encoded, would not fit.
const DefaultMaxDeadLetterBytes = 512 << 10

// ErrDeadLetterTooLarge is returned by Encode when a dead letter does not
// fit its limit even without its payload, headers and tokens.
var ErrDeadLetterTooLarge = errors.New("dead letter does not fit its size limit")

// DeadLetter is what could not be processed, on push.dead.<stage>.<app>,
// with everything needed to understand it and replay it.
type DeadLetter struct {
	Stage  string `json:"stage"`
	App    string `json:"app,omitempty"`
	Reason string `json:"reason"`
	// Attempts is how many times the message was delivered to the stage.
	Attempts int       `json:"attempts"`
	At       time.Time `json:"at"`
	// Subject, Stream and Seq locate the original message.
	Subject  string              `json:"subject"`
	Stream   string              `json:"stream,omitempty"`
	Seq      uint64              `json:"seq,omitempty"`
	Headers  map[string][]string `json:"headers,omitempty"`
	IntentID string              `json:"intent_id,omitempty"`
	// Tokens is set when a sender gave up on some tokens of a job.
	Tokens []string `json:"tokens,omitempty"`
	// TokensOmitted counts tokens left out of Tokens so that the dead letter
	// fits (Truncated is then set).
	TokensOmitted int `json:"tokens_omitted,omitempty"`
	// Payload is the original message when it is JSON; PayloadBytes otherwise.
	// When Truncated, Payload is empty and PayloadBytes holds only the first
	// bytes of the original message.
	Payload      json.RawMessage `json:"payload,omitempty"`
	PayloadBytes []byte          `json:"payload_bytes,omitempty"`
	// PayloadSize is the size in bytes of the whole original payload and
	// PayloadSHA256 its SHA-256 (hex), whether or not it was truncated.
	PayloadSize   int    `json:"payload_size,omitempty"`
	PayloadSHA256 string `json:"payload_sha256,omitempty"`
	// Truncated says the dead letter was cut to fit its size limit: the
	// payload is a prefix (or absent), and if that was not enough the
	// original headers were dropped, long text fields shortened and tokens
	// omitted (TokensOmitted). A truncated dead letter cannot be replayed.
	Truncated bool `json:"truncated,omitempty"`
}

// SetPayload stores b as Payload when it is valid JSON, else as
// PayloadBytes, and records its size and SHA-256.
func (d *DeadLetter) SetPayload(b []byte) {
	d.Payload, d.PayloadBytes = nil, nil
	d.PayloadSize, d.PayloadSHA256 = len(b), ""
	if len(b) > 0 {
		sum := sha256.Sum256(b)
		d.PayloadSHA256 = hex.EncodeToString(sum[:])
	}
	if json.Valid(b) {
		d.Payload = append(json.RawMessage(nil), b...)
		return
	}
	d.PayloadBytes = append([]byte(nil), b...)
}

// Original returns the original message bytes, or nil when the dead letter
// was truncated (PayloadBytes then holds only a prefix).
func (d *DeadLetter) Original() []byte {
	if d.Truncated {
		return nil
	}
	if len(d.Payload) > 0 {
		return d.Payload
	}
	return d.PayloadBytes
}

// Encode returns d as JSON of at most limit bytes. A dead letter that is too
// large loses, in this order and only as far as needed: its payload (the
// room left keeps a prefix in PayloadBytes), the original headers, the
// length of its text fields (beyond 1 KiB, then 128 bytes) and tokens from
// the end of Tokens. Truncated is then set, and PayloadSize and
// PayloadSHA256 still describe the whole payload.
func (d DeadLetter) Encode(limit int) ([]byte, error) {
	b, err := json.Marshal(d)
	if err != nil || len(b) <= limit {
		return b, err
	}
	whole := d.Payload
	if len(whole) == 0 {
		whole = d.PayloadBytes
	}
	if d.PayloadSize == 0 && d.PayloadSHA256 == "" && len(whole) > 0 {
		sum := sha256.Sum256(whole)
		d.PayloadSize, d.PayloadSHA256 = len(whole), hex.EncodeToString(sum[:])
	}
	d.Truncated = true
	d.Payload, d.PayloadBytes = nil, nil
	shrink := []func(*DeadLetter){
		func(*DeadLetter) {},
		func(d *DeadLetter) { d.Headers = nil },
		func(d *DeadLetter) { d.cutText(1 << 10) },
		func(d *DeadLetter) { d.cutText(128) },
	}
	for _, step := range shrink {
		step(&d)
		if b, err = json.Marshal(d); err != nil {
			return nil, err
		}
		if len(b) <= limit {
			return d.withPrefix(b, whole, limit), nil
		}
		if len(d.Tokens) > 0 {
			if b, ok := d.fitTokens(limit); ok {
				return d.withPrefix(b, whole, limit), nil
			}
		}
	}
	return nil, fmt.Errorf("%w: %d bytes without payload, headers or tokens, limit %d", ErrDeadLetterTooLarge, len(b), limit)
}

// fitTokens keeps the longest prefix of d.Tokens that fits limit and
// returns the encoding, or false when not even zero tokens fit.
func (d *DeadLetter) fitTokens(limit int) ([]byte, bool) {
	all, omitted := d.Tokens, d.TokensOmitted
	try := func(n int) []byte {
		d.Tokens, d.TokensOmitted = all[:n], omitted+len(all)-n
		b, err := json.Marshal(d)
		if err != nil || len(b) > limit {
			return nil
		}
		return b
	}
	n := sort.Search(len(all)+1, func(n int) bool { return try(n) == nil }) - 1
	if n < 0 {
		d.Tokens, d.TokensOmitted = all, omitted
		return nil, false
	}
	return try(n), true
}

// withPrefix fills the room left in limit with the first bytes of payload
// (base64 in PayloadBytes); b is d encoded without it.
func (d *DeadLetter) withPrefix(b, payload []byte, limit int) []byte {
	room := limit - len(b) - len(`,"payload_bytes":""`)
	n := min(room/4*3, len(payload))
	if n <= 0 {
		return b
	}
	d.PayloadBytes = payload[:n]
	out, err := json.Marshal(d)
	if err != nil || len(out) > limit {
		d.PayloadBytes = nil
		return b
	}
	return out
}

// cutText shortens the free-text fields to n bytes each.
func (d *DeadLetter) cutText(n int) {
	for _, s := range []*string{&d.Stage, &d.App, &d.Reason, &d.Subject, &d.Stream, &d.IntentID} {
		*s = cut(*s, n)
	}
}

// cut returns s shortened to at most n bytes at a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
