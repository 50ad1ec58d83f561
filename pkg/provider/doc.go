// Package provider defines what a push provider is to pushfleet: one small
// Sender interface and one result vocabulary (Kind) that every provider maps
// its answers onto. The JetStream plumbing depends on this package; the
// provider implementations (apns, fcm, mi) never depend on JetStream.
package provider
