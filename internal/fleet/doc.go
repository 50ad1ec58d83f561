// Package fleet assembles pushfleet's services from their parts and gives
// every process one life (Process.Run): serve health and metrics, start the
// embedded server or dial the external one with the same NATS options,
// provision the streams, bind each service's handler to the consumer
// runtime with the settings every component shares (Env), run everything
// until shutdown and stop within bounds. The service binaries
// (RunCommand), the all-in-one and pushbench's fleet under test all run
// through it; each adds only what is its own (Build, Foreground).
package fleet
