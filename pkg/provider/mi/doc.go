// Package mi delivers pushfleet jobs through the Xiaomi MiPush server REST
// API with a plain net/http client (Xiaomi publishes no Go SDK).
//
// The design follows the Erlang client pushfleet grew from: one long-lived
// TLS connection (or a few) carries many requests at once, each answer is
// handled as it arrives, and the connections are replaced on a schedule
// (Config.ConnMaxAge, the Erlang client's "expires"). Over HTTP/2, which the
// server offers through ALPN, requests are multiplexed on one connection;
// without it a bounded pool of keep-alive HTTP/1.1 connections is used.
//
// MiPush reports most errors as HTTP 200 with a non-zero "code" in the JSON
// body, so an answer is never taken as success before its body is read. The
// mapping of codes onto provider.Kind is in classify.go.
//
// Each batch request checks the notification's expiry once it has its slot,
// right before it is made: a batch whose turn comes after the expiry is
// Expired and never sent, and time_to_live is the time left at that moment
// (at most MaxTimeToLive). Polls of the invalid-regid feed are no pushes:
// they do not count in the request metrics (as deliveries or credential
// errors).
//
// Besides Send (regid targets), the Sender exposes SendAlias and SendTopic,
// and PollInvalid with a Poller for the deprecated but still served
// /v1/feedback/fetch_invalid_regids feed.
//
// Package mifake is a faithful fake MiPush server for tests, benchmarks and
// the sandbox mode.
package mi
