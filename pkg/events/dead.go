package events

import (
	"encoding/json"
	"time"
)

// Stages name where a dead letter came from; a stage is a subject token.
const (
	StageIntents  = "intents"
	StageFeedback = "feedback"
)

// SenderStage is the dead-letter stage of platform p's sender.
func SenderStage(p Platform) string { return string(p) }

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
	// Payload is the original message when it is JSON; PayloadBytes otherwise.
	Payload      json.RawMessage `json:"payload,omitempty"`
	PayloadBytes []byte          `json:"payload_bytes,omitempty"`
}

// SetPayload stores b as Payload when it is valid JSON, else as PayloadBytes.
func (d *DeadLetter) SetPayload(b []byte) {
	if json.Valid(b) {
		d.Payload = append(json.RawMessage(nil), b...)
		return
	}
	d.PayloadBytes = append([]byte(nil), b...)
}

// Original returns the original message bytes.
func (d *DeadLetter) Original() []byte {
	if len(d.Payload) > 0 {
		return d.Payload
	}
	return d.PayloadBytes
}
