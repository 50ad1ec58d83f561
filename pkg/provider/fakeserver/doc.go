// Package fakeserver holds what the faithful provider fakes (apnsfake,
// fcmfake, hmsfake, mifake, webpushfake) share: the faults they can inject
// (Failure), the control surface every fake implements (Control), the wait
// behind their SetLatency (Delay) and a fresh self-signed loopback
// certificate (SelfSigned). The fakes of HTTP APIs (fcmfake, hmsfake,
// mifake) also run on the same HTTPS server (Server: TLS listener, HTTP/2,
// connection and in-flight counts, shutdown); hmsfake and mifake keep their
// Control bookkeeping in a Ledger and answer JSON with WriteJSON. A
// WireCounter, when a fake is given one, counts the bytes and HTTP/2
// frames its clients send, for the wire benchmarks (BenchmarkWireAPNS…).
//
// It is production code: the all-in-one's sandbox mode and pushbench run the
// fakes, so neither this package nor the fakes may import testing. The
// conformance suite that drives a Control from tests is
// pkg/provider/providertest.
package fakeserver
