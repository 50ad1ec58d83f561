// Package registryapi is the public contract of pushfleet's device registry
// service (pushfleet-registry): its subjects, the JSON request and response
// types of each verb, its error codes, and a small Go Client.
//
// The service answers NATS requests on push.registry.<verb>.<app>; the
// subject's app is the authority, and a request whose body names another
// app is refused (403). Counts over every app are on push.registry.stats-all,
// for operators. Errors are NATS micro service errors: the
// Nats-Service-Error-Code header holds an HTTP-like code (400, 403, 404,
// 409, 500, 504), Nats-Service-Error the description, and the body a
// readable line such as "404 not found: no record for this token (...)".
// docs/CONTRACT.md documents each verb, and docs/registry.schema.json holds
// the JSON Schemas, with examples in docs/examples/registry.
package registryapi
