// Package registry is the device registry's API for other services: a NATS
// request/reply service built with nats.go's micro package (name
// pushfleet-registry) on subjects push.registry.<verb>.<app>, and a small
// Client for it. The subject's app is the authority: a request whose body
// names another app is refused (403), so that NATS permissions on
// push.registry.*.<app> confine each registry client to its own app; counts
// over every app are on push.registry.stats-all, for operators.
//
// Requests and responses are the JSON types of this package; errors come
// back as micro service errors with an HTTP-like code (400 bad input, 403
// body app not the subject's, 404 unknown device, 409 contention, 500/504
// server trouble), which the Client turns into an *Error that matches this
// package's sentinels with errors.Is.
package registry
