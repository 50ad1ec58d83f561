// Package apnsfake is a faithful fake of Apple's APNs provider API for
// tests, benchmarks and the all-in-one sandbox: HTTP/2 over TLS on
// 127.0.0.1, POST /3/device/{token}, ES256 JWT or client-certificate
// authentication, Apple's header, payload and token checks with Apple's
// status codes and reason strings, plus control methods to inject faults
// (FailNext, ResetStreams, CloseConnections, ExpireJWTs, SetLatency) and
// counters to assert on (requests, deliveries per token, connections, JWTs).
//
// Any device token starting with DeadPrefix ("dead", valid hex) is answered
// 410 Unregistered, as if SetDead had been called, so a sandbox user can
// exercise the invalid-token path without any set-up.
package apnsfake

// DeadPrefix starts the tokens the fake always reports as unregistered (410).
const DeadPrefix = "dead"
