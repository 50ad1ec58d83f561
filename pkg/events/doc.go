// Package events is pushfleet's wire contract: the push intent that producers
// publish, the delivery jobs the dispatcher hands to provider senders, the
// feedback events every sender emits and the dead letters for what could not
// be processed, together with the subjects and streams that carry them.
//
// Everything here is plain JSON on NATS subjects, so producers and consumers in
// any language can speak it; docs/intent.schema.json and
// docs/feedback.schema.json describe the same shapes as JSON Schema.
package events
