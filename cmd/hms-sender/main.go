// Command hms-sender delivers Huawei Push Kit jobs from PUSH_SEND_HMS over
// long-lived HTTP/2 connections, up to 1000 tokens per request, with OAuth
// 2.0 access tokens renewed before they expire, and reports every answer
// as feedback.
package main

import (
	"context"
	"os"

	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/providers"
)

func main() {
	fleet.Main("hms-sender", func(ctx context.Context) error {
		return providers.RunSender(ctx, "hms-sender", "delivers push jobs to Huawei Push Kit over long-lived HTTP/2 connections", &providers.HMSFlags{}, os.Args[1:], os.Getenv, os.Stderr)
	})
}
