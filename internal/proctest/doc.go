// Package proctest runs programs as processes of their own in tests: the
// pushfleet binaries built from ./cmd (and nats-server built from the
// module), each with its output in a log file, waited for until ready,
// signalled (SIGTERM, SIGKILL, SIGSTOP…), restarted with the same
// arguments, and always ended by the test's cleanup. It is shared by the
// suites that need real processes (internal/faulttest, internal/scaletest).
package proctest
