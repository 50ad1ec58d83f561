// Package cmdtest tests the service binaries as a user runs them: built,
// started as separate processes against an external NATS server, probed over
// HTTP and stopped with SIGTERM.
package cmdtest
