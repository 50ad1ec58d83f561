// Package apns delivers pushfleet jobs to Apple Push Notification service
// over long-lived HTTP/2 connections, for many apps in one Sender.
//
// Each app names a topic (bundle id), an environment (production or sandbox)
// and credentials: a .p8 signing key with its key and team ids (token auth)
// or a PEM client certificate and key (certificate auth). Apps that share
// credentials and environment share one pool of connections; apps that share
// a signing key share one JWT, minted at most every 50 minutes and renewed
// early, at most once per JWTRenewInterval, when APNs answers
// ExpiredProviderToken.
//
// Every token of a job is one HTTP/2 request; they are sent concurrently over
// the pool and answered in the job's order. The pool worker checks the
// notification's expiry right before each request: under a backlog a token
// whose turn comes after it is Expired and never sent. apns-expiration is the
// expiry, at most MaxExpiration (30 days, APNs' longest storage) ahead.
// Requests carry no header APNs does not need: no apns-id (APNs assigns
// one) and no apns-priority 10 (its default), so a push is no heavier on the
// wire than bare apns2's (BenchmarkWireAPNS). Answers are classified into
// the provider.Kind vocabulary following docs/providers.md §0: see
// classify.go.
package apns
