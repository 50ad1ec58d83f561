// Package clustertest runs pushfleet the way production runs it: against a
// three-node NATS JetStream cluster with R3 streams, here started inside the
// test process on loopback by natstest.StartCluster. The tests of this
// package take a node down while notifications flow and check that nothing
// is lost.
package clustertest
