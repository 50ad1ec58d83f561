// Package archtest holds the tests that keep the package graph the way
// docs/ARCHITECTURE.md draws it: no test code in a production binary, pkg/
// free of internal/, providers free of NATS, no back edges to the assembly
// layer. It has no code of its own; the tests read one `go list -deps` of
// the module.
package archtest
