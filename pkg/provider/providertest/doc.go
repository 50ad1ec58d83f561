// Package providertest is the conformance suite every provider.Sender passes
// against its faithful fake: the same behavioural checks for APNs, FCM and
// MiPush, so the JetStream side can rely on one result vocabulary.
//
// It imports testing, so only tests may import it (internal/archtest fails
// otherwise). What the fakes themselves share (faults, their control
// surface, latency) is production code in pkg/provider/fakeserver; Failure,
// its constants and Fake here are aliases of it.
package providertest
