// Package registry runs the device registry service (pushfleet-registry):
// a NATS request/reply service built with nats.go's micro package on
// subjects push.registry.<verb>.<app>, over the token registry in KV. Its
// contract (subjects, the JSON request and response types, error codes and
// a Go Client) is the public package pkg/registryapi, documented in
// docs/CONTRACT.md with the JSON Schemas of docs/registry.schema.json.
//
// The subject's app is the authority: a request whose body names another
// app is refused (403), so that NATS permissions on push.registry.*.<app>
// confine each registry client to its own app; counts over every app are
// on push.registry.stats-all, for operators. Errors are micro service
// errors with an HTTP-like code in Nats-Service-Error-Code (400 bad input,
// 403 body app not the subject's, 404 no record, 409 contention, 500/504
// server trouble), the description in Nats-Service-Error and a readable
// line as the body ("404 not found: no record for this token ...").
package registry
