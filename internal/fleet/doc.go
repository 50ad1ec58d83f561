// Package fleet assembles pushfleet's services from their parts: it connects
// to NATS, provisions streams, binds each service's handler to the consumer
// runtime, registers readiness checks and runs everything until shutdown.
// The standalone binaries and the all-in-one use the same assembly.
package fleet
