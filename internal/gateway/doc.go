// Package gateway is pushfleet's HTTP way in: producers that cannot hold a
// NATS connection POST intents (the native JSON, or gorush's /api/push body)
// and the gateway publishes each on push.intents.<app> through
// events.Publisher, with Nats-Msg-Id "<app>:<id>".
//
// Every publishing route needs an API key (Authorization: Bearer <key>)
// from the keys file, which maps each key's SHA-256 to the apps it may
// publish for; the file is re-read while running, so keys rotate without a
// restart. Errors are RFC 9457 problem+json. The routes are described by
// the OpenAPI 3.1 document served at /openapi.json (openapi.json here, kept
// true by a test). See docs/gateway.md.
//
// Each authenticated request is a server span under its W3C traceparent
// (or the start of a trace), and the intents it publishes carry that
// span's context, so the dispatcher's span is its child (docs/tracing.md).
package gateway
