// Package securitytest proves pushfleet's NATS security model: the server
// configuration shipped in deploy/nats-server/pushfleet-auth.conf (one user
// per service, least privilege) runs the whole fleet end to end while every
// service is refused what is not its own, and services connect over mutual
// TLS with an nkey seed file. See docs/SECURITY.md.
package securitytest
