// Package confirmstate is the confirmation service's state as stored in KV
// push_confirm (events.ConfirmBucket): its keys, the records under them
// (Watch, TokenState), and the reads of them, ReadStatus among them, which
// `pushctl status` shows.
//
// It lives apart from internal/confirm so that a reader of the state links
// neither the service nor its consumer runtime; the service writes the same
// records through it, so the layout is defined once. It imports no service
// package (internal/archtest: StateLayoutsLinkNoService).
package confirmstate
