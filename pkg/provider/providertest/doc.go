// Package providertest is the conformance suite every provider.Sender passes
// against its faithful fake: the same behavioural checks for APNs, FCM and
// MiPush, so the JetStream side can rely on one result vocabulary.
package providertest
